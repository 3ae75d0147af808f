//! Disclosure control: every number that leaves halsohub for someone
//! without a permit passes through this crate (DESIGN.md §4, invariant 2) —
//! counts, each funnel step, each stratum, numerators and denominators.
//!
//! Pure library, no I/O. The cohort engine computes exact counts; the
//! server / CLI picks a [`Profile`] for the audience, builds a [`Protector`]
//! for the release and sends only the resulting [`ProtectedValue`]s out.
//! [`QuotaPolicy`] and [`QuotaStore`] limit how many queries a user makes.
//!
//! # Profiles
//!
//! | profile | threshold | rounding | noise | for |
//! |---|---|---|---|---|
//! | `feasibility` (default) | < 5 → `"<5"` | nearest 5 | Laplace ε = 0.5, keyed by the persons | logged-in feasibility users |
//! | `noisy` | < 5 → `"<5"` | nearest 5 | Laplace ε = 0.5 | users who can run many queries |
//! | `strict` | < 10 → `"<10"` | nearest 10 | Laplace ε = 0.5 | open / anonymous audiences |
//! | `exact` | none | none | none | the local data steward only (`halsohub count --exact`) |
//!
//! Custom profiles are configured as JSON/YAML
//! (`{"name": "...", "threshold": 5, "rounding": 5, "noise": {"epsilon": 1.0}}`,
//! unknown fields rejected, values validated).
//!
//! For one count `n` the rules apply in this order:
//! 1. **Noise** (if configured): `n' = max(0, round_half_up(n + L))` with
//!    `L ~ Laplace(0, 1/ε)`, drawn from HMAC-SHA256 over (hub secret,
//!    fingerprint of the *set of persons* behind the number) — see
//!    [`Release`] and [`SetPrint`]. Every rewrite, funnel step, stratum,
//!    margin or later snapshot standing on the same persons gets the same
//!    noise, so nothing can be averaged away. Without noise `n' = n`. A
//!    [`GuardSession`] may then replace the number by an earlier one whose
//!    set is within a few persons (the differencing guard), and a
//!    [`BudgetPolicy`] bounds how many numbers a user sees per period.
//! 2. **Threshold**: `n' < threshold` → suppressed, displayed `"<5"`
//!    ([`Precision::Suppressed`], [`ProtectedValue::below`] = 5). A true 0
//!    and a true 3 give identical output; 0 is never shown.
//! 3. **Rounding**: otherwise `n'` is shown rounded to the nearest multiple
//!    of `rounding`; **ties round up** (with base 10, 15 → 20; base 5 has no
//!    ties on whole counts). A shown value is never below the smallest
//!    multiple of `rounding` that is at least the threshold (threshold 8,
//!    base 5: 8 → 10), so no shown number is below the threshold.
//!
//! Every value carries its [`Precision`]: `exact` (true count), `rounded`,
//! `noisy` (noise, then rounding) or `suppressed`.
//!
//! # Results with several numbers
//!
//! * **Funnels** ([`Protector::funnel`]): each step protected on its own.
//! * **Stratifications, time series, two-way tables** ([`Protector::strata`],
//!   [`Protector::time_series`], [`Protector::table`]): the strata must
//!   partition the cohort, so that cells add up to the margins and the
//!   total. Besides the primary threshold, *secondary suppression* hides
//!   more cells until no suppressed cell can be computed from the published
//!   numbers (the margins and total are treated as public — they are what a
//!   simpler query returns). The rules (module `table`):
//!   1. entries (cells and margins) below the threshold are suppressed;
//!   2. a row or column (margin included) with suppressed entries needs at
//!      least two, and — when its total is shown — its `k` suppressed cells
//!      must not add up to less than the threshold `t` (two zeros do not
//!      hide each other) nor to exactly `k·(t−1)` (two cells of 4 are pinned
//!      by the sum 8);
//!   3. every suppressed entry must be able to change by ±1 in another
//!      non-negative table with the same published numbers: it lies on a
//!      cycle of suppressed entries, alternating rows and columns, along
//!      which values can shift without going negative (checked exactly with
//!      path searches; a *bridge* or a cycle blocked by zeros fails).
//!
//!   The extra cell is the next unsuppressed one after the line's first
//!   suppressed cell (cyclically) — by **position, not value**: choosing
//!   "the smallest" would tell an algorithm-aware attacker that the
//!   complementary cell is at most every shown cell of its line, which can
//!   pin it. The grand total is never suppressed secondarily. All
//!   suppressed table entries display the same `"suppressed"` (no `"<5"`),
//!   so a reader cannot tell a small cell from a complementary one.
//!
//!   `tests/secondary_suppression.rs` proves the guarantee by brute force:
//!   it enumerates every true table with cells in a small range, groups
//!   them by published output, and requires every suppressed cell to have
//!   at least two possible true values — against an *algorithm-aware*
//!   attacker (same output) for one-way strata, proportions, one-row and
//!   one-column tables and 2×2 tables, and against the classic
//!   *published-numbers* attacker (same shown numbers, counts
//!   non-negative) for 2×3 tables exhaustively and 3×3 / 3×4 tables by a
//!   property test with an independent search. Known gap: in two-way tables
//!   larger than 2×2, an algorithm-aware attacker can in rare cases near the
//!   threshold tell values (2×3, threshold 2, cells 2,2,2 / 2,2,1); noisy
//!   profiles close it. Cost (release build, `cargo run --release -p
//!   halsohub-disclosure --example suppression_cost`): 0.1 ms for 21×20,
//!   27 ms for 290×20, 62 ms for 100×100 cells.
//! * **Proportions** ([`Protector::proportion`]): numerator and remainder
//!   (`denominator − numerator`) are protected as a two-stratum table with
//!   the denominator as its total — so "all but 2" is protected like "2".
//!   The percentage is computed from the shown numbers (capped at 100 %) and
//!   withheld when the numerator is suppressed.
//!
//! # What this protects against, and what not
//!
//! * **Small cells**: no protected output reveals a count below the
//!   threshold, nor tells 0 from 1..threshold−1.
//! * **Averaging repeats and rewrites**: noise is a function of the persons
//!   behind a number, so repeats, rewrites, funnel steps and margins on the
//!   same persons return identical numbers; the differencing guard and the
//!   budget cover near sets (see `docs/disclosure.md` for the attack suite
//!   and what is not covered).
//! * **Recovering suppressed cells from margins** within one table: see
//!   the proofs above (for exact values; rounding and noise only add
//!   uncertainty, since the suppression pattern is a function of the same
//!   values).
//! * **Differencing overlapping queries** (e.g. "X in region R" minus "X in
//!   region R, aged 40–75", or consecutive funnel steps) is only partly
//!   covered: with rounding, a difference of two shown counts is uncertain
//!   by up to ±(rounding − 1), and with noise by the noise of both; quotas
//!   bound the number of probes. A profile with `rounding = 1` and no noise
//!   makes such differences exact — use it only for trusted audiences.
//!   Queries that mean the same but hash differently (a criterion that
//!   changes nothing) get independent noise, so with enough of them noise
//!   can be averaged; rounding still limits what is learned. Not yet
//!   covered: cross-query consistency of secondary suppression (a margin
//!   suppressed here may be shown by a one-way query) and strata that do not
//!   partition the cohort (use one [`Protector::count`] per stratum there).
//!
//! # Output checks
//!
//! For released analysis outputs (secure workspace, later): [`check_cell`]
//! applies ACRO-style [`OutputRules`] — cell threshold 10, dominance
//! (n, k) = (2, 90 %), p-percent 10 %, zeros flagged — to one cell's
//! contributions and returns every [`OutputFinding`].
//!
//! # Example
//!
//! ```
//! use halsohub_disclosure::{PersonTagger, Precision, Profile, Protector, Release, SetPrint};
//!
//! let profile = Profile::feasibility();
//! let p = Protector::new(&profile, &Release { secret: b"hub noise key" })?;
//! // The persons behind a number, by their secret tags.
//! let tagger = PersonTagger::new(b"hub tag key")?;
//! let set = |ids: std::ops::Range<u32>| SetPrint::of(ids.map(|i| tagger.tag(&i.to_be_bytes())));
//! let big = p.count(&set(0..1234));
//! assert_eq!(big.precision(), Precision::Noisy);
//! // the same persons, however the question is written: the same number
//! assert_eq!(p.count(&set(0..1234)), big);
//! assert!(p.count(&set(0..1)).is_suppressed() || p.count(&set(0..1)).value() >= Some(5));
//! # Ok::<(), halsohub_disclosure::DisclosureError>(())
//! ```
//!
//! # Quotas
//!
//! [`QuotaPolicy::check`] is a pure decision over a user's query history
//! (default 30 per sliding minute, 1000 per sliding week) returning
//! [`QuotaExceeded`] with the window, limit and `retry_after`.
//! [`QuotaLedger`] is a thread-safe in-memory [`QuotaStore`]; a persistent
//! store on the state database implements the same trait.

mod budget;
mod error;
mod guard;
mod noise;
mod output_check;
mod profile;
mod protect;
mod quota;
mod setprint;
mod table;

pub use budget::{BudgetExceeded, BudgetPolicy, BudgetStatus};
pub use error::DisclosureError;
pub use guard::{Anchor, GuardPolicy, GuardSession};
pub use noise::Release;
pub use output_check::{NonFiniteContribution, OutputFinding, OutputRules, check_cell};
pub use profile::{
    BUILTIN_PROFILES, LaplaceNoise, MAX_EPSILON, MAX_PARAMETER, MIN_EPSILON, Profile,
};
pub use protect::{
    AsPrint, MAX_TABLE_CELLS, Precision, ProtectedProportion, ProtectedStrata, ProtectedTable,
    ProtectedValue, Protector, SUPPRESSED,
};
pub use quota::{AdmitError, QuotaExceeded, QuotaLedger, QuotaPolicy, QuotaStore, QuotaWindow};
pub use setprint::{MAX_DISTANCE, PersonTag, PersonTagger, SETPRINT_BYTES, SKETCH_CELLS, SetPrint};
