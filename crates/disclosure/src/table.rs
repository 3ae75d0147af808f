//! Secondary (complementary) suppression for tables with margins.
//!
//! A table of `R × C` cells is published with its row totals, column totals
//! and grand total. We view it as the extended `(R+1) × (C+1)` grid whose
//! last column holds the row totals, last row the column totals and corner
//! the grand total. Every row and every column of the extended grid is a
//! *line*: its last entry (the line's margin) is the sum of the others. An
//! attacker who sees the published entries can solve these linear equations
//! for suppressed entries; the rules below make sure none is pinned down.
//!
//! Rules, applied until nothing changes (values are the already noised
//! counts; with no noise, the true counts):
//! 1. **Primary**: every entry below the threshold is suppressed (a true 0
//!    included, so 0 and 3 look the same).
//! 2. **Lines**: a line with suppressed entries needs another suppressed
//!    entry when it has exactly one, or when its margin is published and
//!    its `k` suppressed cells add up to less than the threshold `t` (the
//!    hidden group as a whole would be small — e.g. two zeros) or to
//!    exactly `k·(t−1)` (e.g. two cells of `t−1`: the largest sum small
//!    cells can have, which pins each of them).
//! 3. **Cycles**: every suppressed entry must be able to change — up or
//!    down by one — in some other non-negative table with the same
//!    published numbers (see [`pinned`]): it lies on a cycle of suppressed
//!    entries, alternating between rows and columns, along which values
//!    can shift without going negative. A suppressed entry on no such
//!    cycle (a *bridge*, or a cycle blocked by zeros) equals a signed sum of
//!    published numbers. This is the classic attacker of statistical
//!    disclosure control (as in τ-ARGUS), checked exactly.
//!
//! The extra entry suppressed for rule 2 or 3 is the next unsuppressed cell
//! after the line's first suppressed one (cyclically; for a pinned entry,
//! in its row first, else its column, else anywhere) — chosen by position,
//! never by value, see [`pick`]; a margin only when the line has no cell
//! left. The grand total is never secondarily suppressed — it is the plain
//! count of the same cohort, published anyway.
//!
//! All suppressed entries of a table are shown alike ("suppressed"), so a
//! reader cannot tell primary from secondary suppression (telling them
//! apart would reveal that a secondary cell is at least the threshold).

/// Position of an entry in the extended grid, row-major.
type Entry = usize;

/// The extended grid: `rows × cols`, the last row and column being margins.
pub(crate) struct Grid<'a> {
    pub rows: usize,
    pub cols: usize,
    /// Row-major values, `rows * cols` long.
    pub values: &'a [u64],
    /// Which entries may be suppressed as secondary (not the grand total,
    /// nor a margin that duplicates it).
    pub eligible: &'a [bool],
}

impl Grid<'_> {
    fn row_line(&self, r: usize) -> impl Iterator<Item = Entry> + '_ {
        (0..self.cols).map(move |c| r * self.cols + c)
    }

    fn col_line(&self, c: usize) -> impl Iterator<Item = Entry> + '_ {
        (0..self.rows).map(move |r| r * self.cols + c)
    }

    fn value(&self, e: Entry) -> u64 {
        self.values.get(e).copied().unwrap_or(0)
    }

    fn is_eligible(&self, e: Entry) -> bool {
        self.eligible.get(e).copied().unwrap_or(false)
    }
}

/// Computes the suppression pattern for the grid (true = suppressed).
pub(crate) fn suppress(grid: &Grid<'_>, threshold: u64) -> Vec<bool> {
    let n = grid.rows * grid.cols;
    let mut supp: Vec<bool> = (0..n).map(|e| grid.value(e) < threshold).collect();
    if threshold == 0 {
        return supp;
    }
    loop {
        let mut changed = false;
        for r in 0..grid.rows {
            let line: Vec<Entry> = grid.row_line(r).collect();
            changed |= fix_line(grid, &line, threshold, &mut supp);
        }
        for c in 0..grid.cols {
            let line: Vec<Entry> = grid.col_line(c).collect();
            changed |= fix_line(grid, &line, threshold, &mut supp);
        }
        if changed {
            continue;
        }
        for stuck in pinned(grid, &supp) {
            let r = stuck / grid.cols;
            let c = stuck % grid.cols;
            let row: Vec<Entry> = grid.row_line(r).collect();
            let col: Vec<Entry> = grid.col_line(c).collect();
            let pick = pick(grid, &row, &supp)
                .or_else(|| pick(grid, &col, &supp))
                .or_else(|| {
                    // nothing left in its lines: the next eligible entry anywhere
                    (1..=n)
                        .map(|k| (stuck + k) % n)
                        .find(|&e| grid.is_eligible(e) && !supp.get(e).copied().unwrap_or(true))
                });
            if let Some(e) = pick
                && let Some(s) = supp.get_mut(e)
            {
                *s = true;
                changed = true;
                break;
            }
        }
        if !changed {
            return supp;
        }
    }
}

/// Applies rule 2 to one line; true when it suppressed another entry.
fn fix_line(grid: &Grid<'_>, line: &[Entry], threshold: u64, supp: &mut [bool]) -> bool {
    let Some((&margin, interior)) = line.split_last() else {
        return false;
    };
    let is_supp = |e: &Entry| supp.get(*e).copied().unwrap_or(false);
    let count = line.iter().filter(|e| is_supp(e)).count();
    if count == 0 {
        return false;
    }
    let margin_published = !is_supp(&margin);
    let hidden: u64 = interior
        .iter()
        .filter(|e| is_supp(e))
        .map(|&e| grid.value(e))
        .fold(0u64, u64::saturating_add);
    let hidden_count = interior.iter().filter(|e| is_supp(e)).count() as u64;
    // All hidden cells below the threshold and at its edge (every one equal
    // to threshold-1) pins them as surely as a sum of zero does.
    let at_maximum = hidden == hidden_count.saturating_mul(threshold - 1);
    let needs_more = count == 1 || (margin_published && (hidden < threshold || at_maximum));
    if !needs_more {
        return false;
    }
    match pick(grid, line, supp) {
        Some(e) => {
            if let Some(s) = supp.get_mut(e) {
                *s = true;
            }
            true
        }
        None => false,
    }
}

/// The entry to suppress next in a line: the first unsuppressed eligible
/// cell after the line's first suppressed entry (cyclically, in line
/// order), else the line's margin if eligible and unsuppressed.
///
/// The choice deliberately ignores the cells' values: choosing "the
/// smallest" would tell an attacker who knows the algorithm that the
/// complementary cell is at most every shown cell of the line, which can pin
/// it (and with it the small cell) down — the brute-force test found such
/// tables (`[5, 5, 4]`, threshold 5).
fn pick(grid: &Grid<'_>, line: &[Entry], supp: &[bool]) -> Option<Entry> {
    let (&margin, interior) = line.split_last()?;
    let is_supp = |e: Entry| supp.get(e).copied().unwrap_or(true);
    let candidate = |e: Entry| grid.is_eligible(e) && !is_supp(e);
    let start = interior.iter().position(|&e| is_supp(e)).unwrap_or(0);
    let n = interior.len();
    (1..=n)
        .filter_map(|k| interior.get((start + k) % n).copied())
        .find(|&e| candidate(e))
        .or_else(|| candidate(margin).then_some(margin))
}

/// Suppressed entries whose value an attacker can compute from the
/// published numbers, knowing only that counts are non-negative.
///
/// In the transformed grid where margins are negated (`x = −margin`, the
/// grand total kept), every line reads `Σ x = 0`, and the alternative
/// tables are exactly those reached by shifting ±δ around cycles of
/// suppressed entries, alternating in sign. Such a shift needs every entry
/// it lowers to stay non-negative. Entry `(r, c)` may rise when there is a
/// directed path `c → r` and fall when it may fall itself and there is a
/// path `r → c`, in the digraph with an arc `r → c` for each other entry that
/// may rise and `c → r` for each that may fall. An entry with neither is
/// pinned. (Two-way tables with margins are network matrices, so the linear
/// relaxation has integer vertices: this is the exact integer answer.)
fn pinned(grid: &Grid<'_>, supp: &[bool]) -> Vec<Entry> {
    let rows = grid.rows;
    let cols = grid.cols;
    let nodes = rows + cols;
    let suppressed: Vec<Entry> = (0..supp.len())
        .filter(|&e| supp.get(e).copied().unwrap_or(false))
        .collect();
    // in the transformed grid: may x rise / fall?
    let moves = |e: Entry| -> (bool, bool) {
        let r = e / cols;
        let c = e % cols;
        let v = grid.value(e);
        let margin = (r + 1 == rows) != (c + 1 == cols); // exactly one: a margin
        if margin {
            (v >= 1, true)
        } else {
            (true, v >= 1)
        }
    };
    let mut out = Vec::new();
    let mut adj: Vec<Vec<(usize, Entry)>> = vec![Vec::new(); nodes];
    for &e in &suppressed {
        let r = e / cols;
        let c = rows + e % cols;
        let (up, down) = moves(e);
        if up && let Some(a) = adj.get_mut(r) {
            a.push((c, e));
        }
        if down && let Some(a) = adj.get_mut(c) {
            a.push((r, e));
        }
    }
    let reachable = |from: usize, to: usize, skip: Entry| -> bool {
        let mut seen = vec![false; nodes];
        let mut stack = vec![from];
        while let Some(v) = stack.pop() {
            if v == to {
                return true;
            }
            if std::mem::replace(seen.get_mut(v).unwrap_or(&mut true), true) {
                continue;
            }
            for &(w, e) in adj.get(v).map_or(&[][..], Vec::as_slice) {
                if e != skip && !seen.get(w).copied().unwrap_or(true) {
                    stack.push(w);
                }
            }
        }
        false
    };
    for &e in &suppressed {
        let r = e / cols;
        let c = rows + e % cols;
        let (up, down) = moves(e);
        let free = (up && reachable(c, r, e)) || (down && reachable(r, c, e));
        if !free {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_1d(cells: &[u64]) -> (Vec<u64>, Vec<bool>, usize, usize) {
        let total: u64 = cells.iter().sum();
        let cols = cells.len() + 1;
        let mut values: Vec<u64> = cells.to_vec();
        values.push(total);
        values.extend_from_slice(cells);
        values.push(total);
        let mut eligible = vec![true; 2 * cols];
        eligible[cols - 1] = false;
        eligible[2 * cols - 1] = false;
        (values, eligible, 2, cols)
    }

    fn run_1d(cells: &[u64], t: u64) -> Vec<bool> {
        let (values, eligible, rows, cols) = grid_1d(cells);
        let s = suppress(
            &Grid {
                rows,
                cols,
                values: &values,
                eligible: &eligible,
            },
            t,
        );
        s[..cells.len()].to_vec()
    }

    #[test]
    fn single_small_cell_gets_a_partner() {
        assert_eq!(run_1d(&[3, 20, 8], 5), [true, true, false]);
        assert_eq!(
            run_1d(&[20, 8, 3], 5),
            [true, false, true],
            "cyclic: next after 3 is 20"
        );
        assert_eq!(run_1d(&[0, 8], 5), [true, true]);
    }

    #[test]
    fn two_zeros_are_not_enough_to_hide_each_other() {
        assert_eq!(run_1d(&[0, 0, 30, 9], 5), [true, true, true, false]);
        assert_eq!(run_1d(&[4, 1, 30], 5), [true, true, false]);
    }

    #[test]
    fn nothing_small_nothing_suppressed() {
        assert_eq!(run_1d(&[5, 6, 100], 5), [false, false, false]);
        assert_eq!(run_1d(&[0, 1, 2], 0), [false, false, false]);
    }

    fn grid_2x2(values: &[u64; 9]) -> (Vec<u64>, Vec<bool>) {
        let mut eligible = vec![true; 9];
        eligible[8] = false;
        (values.to_vec(), eligible)
    }

    #[test]
    fn pinned_entries_are_found() {
        // 2x2 table extended to 3x3; suppress (0,0) and (0,1) only: the row
        // has two, but each column has one → both computable.
        let (values, eligible) = grid_2x2(&[1, 10, 11, 20, 30, 50, 21, 40, 61]);
        let g = Grid {
            rows: 3,
            cols: 3,
            values: &values,
            eligible: &eligible,
        };
        let mut supp = vec![false; 9];
        supp[0] = true;
        supp[1] = true;
        assert_eq!(pinned(&g, &supp), vec![0, 1]);
        // a rectangle: values can shift around it
        supp[3] = true;
        supp[4] = true;
        assert!(pinned(&g, &supp).is_empty());
        let s = suppress(&g, 5);
        assert!(pinned(&g, &s).is_empty());
        assert!(s[0]);
        assert_eq!(s.iter().filter(|x| **x).count(), 4, "{s:?}");
    }

    #[test]
    fn zeros_on_a_cycle_are_pinned_by_non_negativity() {
        // rectangle (0,0),(0,1),(1,0),(1,1) with values 0,5,5,0: shifting
        // +1 on the zeros needs -1 on the fives (fine); the other way not.
        let (values, eligible) = grid_2x2(&[0, 5, 5, 5, 0, 5, 5, 5, 10]);
        let g = Grid {
            rows: 3,
            cols: 3,
            values: &values,
            eligible: &eligible,
        };
        let supp = [true, true, false, true, true, false, false, false, false];
        assert!(pinned(&g, &supp).is_empty());
        // all four zero: nothing can fall, so nothing can rise
        let (values, eligible) = grid_2x2(&[0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let g = Grid {
            rows: 3,
            cols: 3,
            values: &values,
            eligible: &eligible,
        };
        assert_eq!(pinned(&g, &supp), vec![0, 1, 3, 4]);
    }
}
