//! Brute-force proof of secondary suppression on small tables.
//!
//! The attacker knows the profile and the algorithm, and sees the published
//! output. The possible true tables are exactly those (in the enumerated
//! range) that would have produced the same output. We enumerate every true
//! table with cells in `0..=max`, group the tables by their published
//! output, and require that in every group each suppressed cell takes at
//! least two different true values — so no suppressed cell can be computed.
//!
//! Tables whose cells are all at most `max - slack` are "interior": their
//! alternatives (shifting a few units between suppressed cells) stay inside
//! the enumerated range, so a single candidate there is a real leak, not an
//! artefact of the range's edge. The profile has rounding 1 and no noise:
//! the worst case, since rounding and noise only widen the candidate sets
//! (the suppression pattern is a function of the same values).

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};

use halsohub_disclosure::{Profile, ProtectedValue, Protector, Release};

const RELEASE: Release<'static> = Release {
    secret: b"test secret",
};

/// All vectors of `len` values in `0..=max`.
fn all_tables(len: usize, max: u64) -> Vec<Vec<u64>> {
    let mut out = vec![Vec::new()];
    for _ in 0..len {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..=max).map(move |v| {
                    let mut t = prefix.clone();
                    t.push(v);
                    t
                })
            })
            .collect();
    }
    out
}

/// Checks the guarantee; `publish` returns the published output (as a key)
/// and which flat cells it suppresses.
fn check<F>(len: usize, max: u64, slack: u64, publish: F) -> usize
where
    F: Fn(&[u64]) -> (String, Vec<bool>),
{
    let mut groups: HashMap<String, (Vec<bool>, Vec<Vec<u64>>)> = HashMap::new();
    for t in all_tables(len, max) {
        let (key, supp) = publish(&t);
        groups
            .entry(key)
            .or_insert_with(|| (supp, Vec::new()))
            .1
            .push(t);
    }
    let mut checked = 0;
    for (key, (supp, tables)) in &groups {
        for (cell, _) in supp.iter().enumerate().filter(|(_, s)| **s) {
            let candidates: BTreeSet<u64> = tables.iter().map(|t| t[cell]).collect();
            let interior = tables.iter().any(|t| t.iter().all(|&v| v + slack <= max));
            if interior {
                checked += 1;
                assert!(
                    candidates.len() >= 2,
                    "cell {cell} is determined ({candidates:?}) by output {key} \
                     (true tables {tables:?})"
                );
            }
        }
    }
    assert!(checked > 0, "the check must look at some suppressed cell");
    checked
}

fn key(values: &[&ProtectedValue]) -> String {
    values
        .iter()
        .map(|v| v.display())
        .collect::<Vec<_>>()
        .join(",")
}

fn strata_publisher(profile: &Profile) -> impl Fn(&[u64]) -> (String, Vec<bool>) + '_ {
    move |cells| {
        let p = Protector::new(profile, &RELEASE).unwrap();
        let out = p.strata(cells).unwrap();
        let mut all: Vec<&ProtectedValue> = out.cells.iter().collect();
        all.push(&out.total);
        let supp = out
            .cells
            .iter()
            .map(ProtectedValue::is_suppressed)
            .collect();
        (key(&all), supp)
    }
}

fn table_publisher(
    profile: &Profile,
    rows: usize,
    cols: usize,
) -> impl Fn(&[u64]) -> (String, Vec<bool>) + '_ {
    move |flat| {
        let cells: Vec<Vec<u64>> = flat.chunks(cols).map(<[u64]>::to_vec).collect();
        assert_eq!(cells.len(), rows);
        let p = Protector::new(profile, &RELEASE).unwrap();
        let out = p.table(&cells).unwrap();
        let mut all: Vec<&ProtectedValue> = out.cells.iter().flatten().collect();
        all.extend(out.row_totals.iter());
        all.extend(out.column_totals.iter());
        all.push(&out.total);
        let supp = out
            .cells
            .iter()
            .flatten()
            .map(ProtectedValue::is_suppressed)
            .collect();
        (key(&all), supp)
    }
}

fn threshold_only(t: u64) -> Profile {
    Profile::new("threshold-only", t, 1, None).unwrap()
}

#[test]
fn one_way_strata_threshold_3() {
    let p = threshold_only(3);
    check(2, 14, 6, strata_publisher(&p));
    check(3, 11, 6, strata_publisher(&p));
    check(4, 8, 5, strata_publisher(&p));
}

#[test]
fn one_way_strata_five_strata_threshold_2() {
    check(5, 6, 3, strata_publisher(&threshold_only(2)));
}

#[test]
fn one_way_strata_threshold_5() {
    let p = threshold_only(5);
    check(2, 20, 10, strata_publisher(&p));
    check(3, 16, 10, strata_publisher(&p));
}

#[test]
fn one_way_strata_default_profile() {
    let p = Profile::rounded();
    check(3, 16, 10, strata_publisher(&p));
}

#[test]
fn two_by_two_tables_threshold_2() {
    let p = threshold_only(2);
    check(4, 8, 4, table_publisher(&p, 2, 2));
}

/// Published numbers of a table: every shown cell and margin, `None` where
/// suppressed; flat in the order cells (row-major), row totals, column
/// totals, total.
fn published_numbers(p: &Profile, rows: usize, cols: usize, flat: &[u64]) -> Vec<Option<u64>> {
    let cells: Vec<Vec<u64>> = flat.chunks(cols).map(<[u64]>::to_vec).collect();
    assert_eq!(cells.len(), rows);
    let out = Protector::new(p, &RELEASE).unwrap().table(&cells).unwrap();
    let mut all: Vec<Option<u64>> = out
        .cells
        .iter()
        .flatten()
        .map(ProtectedValue::value)
        .collect();
    all.extend(out.row_totals.iter().map(ProtectedValue::value));
    all.extend(out.column_totals.iter().map(ProtectedValue::value));
    all.push(out.total.value());
    all
}

/// Per published key: the set of true values each cell takes.
type CandidateIndex = HashMap<Vec<u64>, Vec<BTreeSet<u64>>>;

/// The classic attacker of statistical disclosure control (as in
/// τ-ARGUS): knows every published number and that cells are non-negative
/// integers, but not which suppressed cells were small. Candidates for a
/// suppressed cell are the tables that agree on every published number.
fn check_published_numbers_attacker(p: &Profile, rows: usize, cols: usize, max: u64, slack: u64) {
    let tables = all_tables(rows * cols, max);
    let published: Vec<Vec<Option<u64>>> = tables
        .iter()
        .map(|t| published_numbers(p, rows, cols, t))
        .collect();
    // exact profile values: margins are sums, computed for every table
    let numbers = |t: &[u64]| -> Vec<u64> {
        let mut all = t.to_vec();
        all.extend(t.chunks(cols).map(|r| r.iter().sum::<u64>()));
        all.extend((0..cols).map(|c| (0..rows).map(|r| t[r * cols + c]).sum::<u64>()));
        all.push(t.iter().sum());
        all
    };
    let all_numbers: Vec<Vec<u64>> = tables.iter().map(|t| numbers(t)).collect();
    let mut by_mask: HashMap<Vec<bool>, CandidateIndex> = HashMap::new();
    let mut checked = 0;
    for (t, pubs) in tables.iter().zip(&published) {
        let mask: Vec<bool> = pubs.iter().map(Option::is_some).collect();
        let index = by_mask.entry(mask.clone()).or_insert_with(|| {
            let mut idx = CandidateIndex::new();
            for (other, nums) in tables.iter().zip(&all_numbers) {
                let key: Vec<u64> = nums
                    .iter()
                    .zip(&mask)
                    .filter(|(_, m)| **m)
                    .map(|(v, _)| *v)
                    .collect();
                let sets = idx
                    .entry(key)
                    .or_insert_with(|| vec![BTreeSet::new(); rows * cols]);
                for (set, v) in sets.iter_mut().zip(other) {
                    set.insert(*v);
                }
            }
            idx
        });
        if !t.iter().all(|&v| v + slack <= max) {
            continue;
        }
        let key: Vec<u64> = pubs.iter().flatten().copied().collect();
        let sets = &index[&key];
        for cell in 0..rows * cols {
            if pubs[cell].is_none() {
                checked += 1;
                assert!(
                    sets[cell].len() >= 2,
                    "cell {cell} of {t:?} is determined: {:?}",
                    sets[cell]
                );
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn two_by_three_tables_against_the_published_numbers_attacker() {
    check_published_numbers_attacker(&threshold_only(2), 2, 3, 4, 2);
}

#[test]
fn two_by_two_tables_default_profile() {
    check(4, 14, 8, table_publisher(&Profile::rounded(), 2, 2));
}

#[test]
fn two_by_two_tables_threshold_3() {
    let p = threshold_only(3);
    check(4, 10, 6, table_publisher(&p, 2, 2));
}

#[test]
fn degenerate_tables_with_one_row_or_column() {
    let p = threshold_only(3);
    check(3, 11, 6, table_publisher(&p, 1, 3));
    check(3, 11, 6, table_publisher(&p, 3, 1));
}

#[test]
fn proportions_hide_small_numerators_and_small_remainders() {
    let p = threshold_only(3);
    let publish = |nd: &[u64]| {
        // enumerate (numerator, remainder) so every pair is a valid proportion
        let (num, den) = (nd[0], nd[0] + nd[1]);
        let out = Protector::new(&p, &RELEASE)
            .unwrap()
            .proportion(num, den)
            .unwrap();
        let key = format!(
            "{},{},{}",
            out.numerator.display(),
            out.denominator.display(),
            out.percent_display
        );
        let num_hidden = out.numerator.is_suppressed();
        (key, vec![num_hidden, num_hidden])
    };
    check(2, 16, 6, publish);
}

/// Independent reference for the published-numbers attacker on larger
/// tables: depth-first search over the values of the suppressed cells, row
/// by row, keeping every table that reproduces each shown number. Returns,
/// per cell, whether it can take at least two values (stopping early once
/// all can).
fn ambiguous_cells(
    cells: &[Vec<u64>],
    shown: &[Vec<Option<u64>>],
    rows_t: &[Option<u64>],
    cols_t: &[Option<u64>],
    total: Option<u64>,
    t: u64,
) -> Option<Vec<bool>> {
    let r_n = cells.len();
    let c_n = cells[0].len();
    let bound = |c: usize| cols_t[c].or(total).unwrap_or(t.saturating_sub(1));
    let hidden: Vec<(usize, usize)> = (0..r_n)
        .flat_map(|r| (0..c_n).map(move |c| (r, c)))
        .filter(|&(r, c)| shown[r][c].is_none())
        .collect();
    let mut seen: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); hidden.len()];
    let mut current: Vec<Vec<u64>> = shown
        .iter()
        .map(|row| row.iter().map(|v| v.unwrap_or(0)).collect())
        .collect();

    #[allow(clippy::too_many_arguments)]
    fn search(
        budget: &mut u64,
        k: usize,
        hidden: &[(usize, usize)],
        current: &mut Vec<Vec<u64>>,
        seen: &mut [BTreeSet<u64>],
        rows_t: &[Option<u64>],
        cols_t: &[Option<u64>],
        total: Option<u64>,
        bound: &dyn Fn(usize) -> u64,
    ) -> bool {
        if seen.iter().all(|s| s.len() >= 2) {
            return true; // done early
        }
        if *budget == 0 {
            return true; // gave up: caller sees the budget spent
        }
        *budget -= 1;
        let c_n = current[0].len();
        if k == hidden.len() {
            let col_ok = (0..c_n)
                .all(|c| cols_t[c].is_none_or(|m| current.iter().map(|r| r[c]).sum::<u64>() == m));
            let total_ok = total.is_none_or(|g| current.iter().flatten().sum::<u64>() == g);
            if col_ok && total_ok {
                for (i, &(r, c)) in hidden.iter().enumerate() {
                    seen[i].insert(current[r][c]);
                }
            }
            return false;
        }
        let (r, c) = hidden[k];
        let last_in_row = hidden.get(k + 1).is_none_or(|&(r2, _)| r2 != r);
        if last_in_row && let Some(m) = rows_t[r] {
            // the row total fixes the last hidden cell of the row
            let others: u64 = (0..c_n)
                .filter(|&cc| cc != c)
                .map(|cc| current[r][cc])
                .sum();
            if let Some(v) = m.checked_sub(others)
                && v <= bound(c)
            {
                current[r][c] = v;
                if search(
                    budget,
                    k + 1,
                    hidden,
                    current,
                    seen,
                    rows_t,
                    cols_t,
                    total,
                    bound,
                ) {
                    return true;
                }
            }
            return false;
        }
        for v in 0..=bound(c) {
            current[r][c] = v;
            if search(
                budget,
                k + 1,
                hidden,
                current,
                seen,
                rows_t,
                cols_t,
                total,
                bound,
            ) {
                return true;
            }
        }
        false
    }
    let mut budget = 300_000u64;
    search(
        &mut budget,
        0,
        &hidden,
        &mut current,
        &mut seen,
        rows_t,
        cols_t,
        total,
        &bound,
    );
    if budget == 0 {
        return None;
    }
    let mut out = vec![true; r_n * c_n];
    for (i, &(r, c)) in hidden.iter().enumerate() {
        out[r * c_n + c] = seen[i].len() >= 2;
    }
    Some(out)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Larger two-way tables (3×3, 3×4) against the published-numbers
    /// attacker, checked by the independent search above.
    #[test]
    fn larger_tables_against_the_published_numbers_attacker(
        cols in 3usize..5,
        raw in proptest::collection::vec(proptest::prop_oneof![0u64..3, 0u64..7], 12),
    ) {
        let t = 3;
        let p = threshold_only(t);
        let cells: Vec<Vec<u64>> = raw.chunks(4).map(|r| r[..cols].to_vec()).collect();
        let out = Protector::new(&p, &RELEASE).unwrap().table(&cells).unwrap();
        let shown: Vec<Vec<Option<u64>>> = out.cells.iter().map(|r| r.iter().map(ProtectedValue::value).collect()).collect();
        let rows_t: Vec<Option<u64>> = out.row_totals.iter().map(ProtectedValue::value).collect();
        let cols_t: Vec<Option<u64>> = out.column_totals.iter().map(ProtectedValue::value).collect();
        let amb = ambiguous_cells(&cells, &shown, &rows_t, &cols_t, out.total.value(), t);
        proptest::prop_assume!(amb.is_some(), "search budget spent");
        let amb = amb.unwrap();
        for (i, ok) in amb.iter().enumerate() {
            proptest::prop_assert!(ok, "cell {} of {:?} is determined (published {:?} {:?} {:?})", i, cells, shown, rows_t, cols_t);
        }
    }
}
