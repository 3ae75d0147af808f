//! Property tests of the released numbers: thresholds, rounding, precision
//! labels, determinism and independence of the noise.
#![allow(clippy::unwrap_used)]

use halsohub_disclosure::{
    DisclosureError, LaplaceNoise, PersonTagger, Precision, Profile, ProtectedValue, Protector,
    Release, SUPPRESSED, SetPrint,
};
use proptest::prelude::*;

const RELEASE: Release<'static> = Release {
    secret: b"hub secret for tests",
};

fn protector(p: &Profile) -> Protector<'_> {
    Protector::new(p, &RELEASE).unwrap()
}

/// Every number a protected value could show, for the 1..=4 check.
fn shown_numbers(v: &ProtectedValue) -> Vec<u64> {
    let mut out: Vec<u64> = v.value().into_iter().collect();
    if let Ok(n) = v.display().parse::<u64>() {
        out.push(n);
    }
    out
}

fn assert_nothing_small(values: &[&ProtectedValue], threshold: u64) {
    for v in values {
        for n in shown_numbers(v) {
            assert!(
                n == 0 && threshold == 0 || n >= threshold,
                "shown {n} below threshold {threshold}: {v:?}"
            );
        }
        assert!(
            v.display() == SUPPRESSED
                || v.display() == format!("<{threshold}")
                || v.display().parse::<u64>().is_ok(),
            "unexpected display {:?}",
            v.display()
        );
    }
}

fn profiles() -> Vec<Profile> {
    vec![
        Profile::rounded(),
        Profile::noisy(),
        Profile::strict(),
        Profile::new("threshold-only", 5, 1, None).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_output_shows_a_small_count(
        n in 0u64..200,
        steps in prop::collection::vec(0u64..200, 1..6),
        cells in prop::collection::vec(0u64..40, 1..8),
        grid in prop::collection::vec(prop::collection::vec(0u64..30, 3), 1..4),
        num in 0u64..60, rest in 0u64..60,
    ) {
        for p in profiles() {
            let t = p.threshold();
            let pr = protector(&p);
            let count = pr.count(n);
            let funnel = pr.funnel(&steps);
            let strata = pr.strata(&cells).unwrap();
            let series = pr.time_series(&cells).unwrap();
            let table = pr.table(&grid).unwrap();
            let prop_ = pr.proportion(num, num + rest).unwrap();
            let mut all: Vec<&ProtectedValue> = vec![&count, &strata.total, &series.total, &table.total];
            all.extend(funnel.iter());
            all.extend(strata.cells.iter());
            all.extend(series.cells.iter());
            all.extend(table.cells.iter().flatten());
            all.extend(table.row_totals.iter());
            all.extend(table.column_totals.iter());
            all.push(&prop_.numerator);
            all.push(&prop_.denominator);
            assert_nothing_small(&all, t);
        }
    }

    #[test]
    fn zero_and_small_counts_look_identical(a in 0u64..5, b in 0u64..5, big in 5u64..100) {
        let p = Profile::rounded();
        let pr = protector(&p);
        prop_assert_eq!(pr.count(a), pr.count(b));
        let ca = pr.count(a);
        prop_assert_eq!(ca.display(), "<5");
        prop_assert_eq!(pr.funnel(&[big, a]), pr.funnel(&[big, b]));
        // in a stratification, a and b only change the hidden cells
        let sa = pr.strata(&[big, a, big]).unwrap();
        let sb = pr.strata(&[big, b, big]).unwrap();
        prop_assert_eq!(&sa.cells[1], &sb.cells[1]);
        prop_assert!(sa.cells[1].is_suppressed());
        let strict = Profile::strict();
        let ps = protector(&strict);
        // strict: noise may lift a count over the threshold, but the same
        // query/cell gives the same answer, and below-threshold shows "<10"
        let c = ps.count(a);
        prop_assert!(c.display() == "<10" || c.value().is_some_and(|v| v >= 10));
    }

    #[test]
    fn rounding_is_to_the_nearest_multiple(n in 5u64..1_000_000) {
        let p = Profile::rounded();
        let v = protector(&p).count(n);
        let shown = v.value().unwrap();
        prop_assert_eq!(shown % 5, 0);
        prop_assert!(shown.abs_diff(n) <= 2, "{} shown as {}", n, shown);
        prop_assert_eq!(v.precision(), Precision::Rounded);
        prop_assert_eq!(v.rounded_to(), Some(5));
        prop_assert_eq!(v.display(), shown.to_string());
        let p10 = Profile::new("r10", 10, 10, None).unwrap();
        let w = protector(&p10).count(n).value();
        if n >= 10 {
            let w = w.unwrap();
            prop_assert_eq!(w % 10, 0);
            prop_assert!(w.abs_diff(n) <= 5);
            if n % 10 == 5 {
                prop_assert_eq!(w, n + 5, "ties round up");
            }
        }
    }

    #[test]
    fn precision_labels_match_the_profile(n in 0u64..500) {
        let exact = Profile::exact();
        let v = protector(&exact).count(n);
        prop_assert_eq!(v.value(), Some(n));
        prop_assert_eq!(v.precision(), Precision::Exact);
        prop_assert_eq!(v.display(), n.to_string());

        let feas = protector(&Profile::rounded()).count(n);
        let expected = if n < 5 { Precision::Suppressed } else { Precision::Rounded };
        prop_assert_eq!(feas.precision(), expected);
        prop_assert_eq!(feas.below(), (n < 5).then_some(5));

        let only = Profile::new("threshold-only", 5, 1, None).unwrap();
        let t = protector(&only).count(n);
        prop_assert_eq!(t.precision(), if n < 5 { Precision::Suppressed } else { Precision::Exact });

        let noisy = Profile::noisy();
        let z = protector(&noisy).count(n);
        prop_assert!(matches!(z.precision(), Precision::Noisy | Precision::Suppressed));
        prop_assert_eq!(z.value().is_none(), z.precision() == Precision::Suppressed);
    }

    #[test]
    fn exact_profile_releases_everything_unchanged(
        grid in prop::collection::vec(prop::collection::vec(0u64..30, 3), 1..4),
    ) {
        let p = Profile::exact();
        let t = protector(&p).table(&grid).unwrap();
        for (row, out) in grid.iter().zip(&t.cells) {
            for (n, v) in row.iter().zip(out) {
                prop_assert_eq!(v.value(), Some(*n));
            }
        }
        let total: u64 = grid.iter().flatten().sum();
        prop_assert_eq!(t.total.value(), Some(total));
    }

    #[test]
    fn noisy_releases_are_deterministic(
        n in 0u64..10_000,
        cells in prop::collection::vec(0u64..50, 1..6),
    ) {
        for p in [Profile::noisy(), Profile::strict()] {
            let a = protector(&p);
            let b = Protector::new(&p, &Release { ..RELEASE }).unwrap();
            prop_assert_eq!(a.count(n), b.count(n));
            prop_assert_eq!(a.strata(&cells).unwrap(), b.strata(&cells).unwrap());
            prop_assert_eq!(a.funnel(&cells), b.funnel(&cells));
        }
    }

    #[test]
    fn tables_never_leave_a_lone_suppressed_entry_in_a_line(
        grid in prop::collection::vec(prop::collection::vec(0u64..25, 2..5), 2..5),
    ) {
        let cols = grid[0].len();
        let grid: Vec<Vec<u64>> = grid.into_iter().map(|mut r| { r.resize(cols, 0); r }).collect();
        let p = Profile::new("threshold-only", 5, 1, None).unwrap();
        let t = protector(&p).table(&grid).unwrap();
        let hidden = |v: &ProtectedValue| v.is_suppressed();
        for (r, row) in t.cells.iter().enumerate() {
            let n = row.iter().filter(|v| hidden(v)).count() + usize::from(hidden(&t.row_totals[r]));
            prop_assert!(n != 1, "row {} has one suppressed entry", r);
        }
        for c in 0..cols {
            let n = t.cells.iter().filter(|row| hidden(&row[c])).count()
                + usize::from(hidden(&t.column_totals[c]));
            prop_assert!(n != 1, "column {} has one suppressed entry", c);
        }
        // shown cells are the true values (rounding 1, no noise)
        for (row, out) in grid.iter().zip(&t.cells) {
            for (n, v) in row.iter().zip(out) {
                if let Some(shown) = v.value() {
                    prop_assert_eq!(shown, *n);
                } else {
                    prop_assert_eq!(v.display(), SUPPRESSED);
                }
            }
        }
    }
}

/// Noise is a function of the persons: the same set gets the same noise
/// (whatever the question), sets of the same size with one person swapped
/// get independent noise, and the noise has the Laplace scale.
#[test]
fn noise_is_keyed_by_the_set_of_persons() {
    let p = Profile::new("noise-only", 0, 1, Some(LaplaceNoise { epsilon: 0.5 })).unwrap();
    let pr = Protector::new(&p, &Release { secret: b"k" }).unwrap();
    let tagger = PersonTagger::new(b"tags").unwrap();
    let set = |lo: u32, swap: u32| {
        SetPrint::of(
            (lo..lo + 1000)
                .map(|i| if i == lo { 1_000_000 + swap } else { i })
                .map(|i| tagger.tag(&i.to_be_bytes())),
        )
    };
    let noise = |s: &SetPrint| pr.count(s).value().unwrap() as f64 - 1000.0;
    let a: Vec<f64> = (0..2000).map(|i| noise(&set(i * 7, 0))).collect();
    let again: Vec<f64> = (0..2000).map(|i| noise(&set(i * 7, 0))).collect();
    assert_eq!(a, again);
    let b: Vec<f64> = (0..2000).map(|i| noise(&set(i * 7, 1))).collect();
    let corr = |x: &[f64], y: &[f64]| {
        let mx = x.iter().sum::<f64>() / x.len() as f64;
        let my = y.iter().sum::<f64>() / y.len() as f64;
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    };
    // 2000 samples: s.e. of r ≈ 0.022
    assert!(
        corr(&a, &b).abs() < 0.1,
        "swapped sets correlated: {}",
        corr(&a, &b)
    );
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert!(same < 400, "{same} of 2000 equal");
    // the noise is really there and has scale 2 (E|X| = 2; rounding adds a little)
    let mean_abs = a.iter().map(|x| x.abs()).sum::<f64>() / a.len() as f64;
    assert!((1.7..2.4).contains(&mean_abs), "mean |noise| {mean_abs}");
}

#[test]
fn repeating_a_noisy_query_cannot_average_the_noise_away() {
    let p = Profile::noisy();
    let answers: Vec<ProtectedValue> = (0..50).map(|_| protector(&p).count(1234)).collect();
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn proportions_use_the_shown_numbers() {
    let p = Profile::rounded();
    let pr = protector(&p);
    let out = pr.proportion(42, 200).unwrap();
    assert_eq!(out.numerator.value(), Some(40));
    assert_eq!(out.denominator.value(), Some(200));
    assert_eq!(out.percent, Some(20.0));
    assert_eq!(out.percent_display, "20.0%");
    // small numerator: withheld
    let out = pr.proportion(3, 200).unwrap();
    assert!(out.numerator.is_suppressed());
    assert_eq!(out.percent, None);
    assert_eq!(out.percent_display, "withheld");
    // all but 2: the remainder is small, so the numerator is withheld too
    let out = pr.proportion(198, 200).unwrap();
    assert!(out.numerator.is_suppressed());
    assert_eq!(out.denominator.value(), Some(200));
    // nonsense input is an error, not a panic
    assert_eq!(
        pr.proportion(5, 4).unwrap_err(),
        DisclosureError::NumeratorAboveDenominator
    );
}

#[test]
fn bad_tables_are_errors() {
    let p = Profile::rounded();
    let pr = protector(&p);
    assert_eq!(
        pr.strata::<u64>(&[]).unwrap_err(),
        DisclosureError::EmptyTable
    );
    assert_eq!(
        pr.table::<u64>(&[]).unwrap_err(),
        DisclosureError::EmptyTable
    );
    assert_eq!(
        pr.table::<u64>(&[vec![]]).unwrap_err(),
        DisclosureError::EmptyTable
    );
    assert!(matches!(
        pr.table(&[vec![1, 2], vec![3]]).unwrap_err(),
        DisclosureError::RaggedTable {
            row: 1,
            expected: 2,
            found: 1
        }
    ));
    let big = vec![vec![1u64; 101]; 100];
    assert!(matches!(
        pr.table(&big).unwrap_err(),
        DisclosureError::TableTooLarge { .. }
    ));
    // a noisy profile without a secret is refused up front
    let noisy = Profile::noisy();
    let r = Release { secret: b"" };
    assert_eq!(
        Protector::new(&noisy, &r).unwrap_err(),
        DisclosureError::EmptySecret
    );
}

#[test]
fn protected_values_serialize_with_their_precision() {
    let p = Profile::rounded();
    let pr = protector(&p);
    let json = serde_json::to_value(pr.count(1234)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"display": "1235", "value": 1235, "precision": "rounded", "rounded_to": 5})
    );
    let json = serde_json::to_value(pr.count(2)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"display": "<5", "value": null, "precision": "suppressed", "below": 5})
    );
    let back: ProtectedValue = serde_json::from_value(json).unwrap();
    assert_eq!(back, pr.count(0));
}

#[test]
fn large_counts_do_not_overflow() {
    for p in profiles() {
        let pr = protector(&p);
        let v = pr.count(u64::MAX);
        assert!(v.value().is_some());
        let s = pr.strata(&[u64::MAX, u64::MAX, 1]).unwrap();
        assert_eq!(s.cells.len(), 3);
        let t = pr.table(&[vec![u64::MAX, 3], vec![u64::MAX, 0]]).unwrap();
        assert_eq!(t.cells.len(), 2);
    }
}
