//! [`protect`]: every number of a query result through the disclosure
//! profile, strata and split time series over the complete [`KeyGrid`].

use std::collections::{BTreeMap, BTreeSet};

use halsohub_cohort::reference::periods;
use halsohub_cohort::validate::age_bands_of;
use halsohub_cohort::{Interval, Output, OutputResult, Query, QueryResult};
use halsohub_disclosure::{
    DisclosureError, GuardSession, MAX_TABLE_CELLS, Profile, ProtectedTable, Protector, Release,
    SetPrint,
};

use crate::grid::KeyGrid;
use crate::output::{FunnelStepOut, MarginOut, Number, PointOut, ProtectedOutput, StratumOut};

/// Why a result could not be protected.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    /// The query asks for something that cannot be released safely (e.g. a
    /// table too large to protect), at the JSON path `path`.
    #[error("{path}: {message}")]
    Query {
        /// JSON path in the query.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The result is not the result of this query.
    #[error("the result does not fit the query: {0}")]
    Mismatch(&'static str),
    /// Disclosure control failed (e.g. a noisy profile without a secret).
    #[error("disclosure control failed: {0}")]
    Disclosure(#[from] DisclosureError),
}

fn table_error(e: DisclosureError) -> ProtectError {
    match e {
        DisclosureError::TableTooLarge { cells, max } => ProtectError::Query {
            path: "$.output.by".into(),
            message: format!(
                "the strata would have {cells} cells, more than the {max} that can be protected; use fewer or coarser dimensions"
            ),
        },
        other => ProtectError::Disclosure(other),
    }
}

/// Protects every number of `result` (the result of `query`) with
/// `profile`: the count, each funnel step, every stratum with its margins
/// and total, numerator and denominator, every period. Strata and split
/// time series are released over the complete key grid (zero cells
/// included). Noise, when the profile adds it, is keyed by `secret` (see
/// [`crate::noise_secret`]) and the result's query hash and snapshot, so a
/// repeated query gets the same numbers.
///
/// # Errors
/// [`ProtectError::Query`] when a table would be too large to protect;
/// [`ProtectError::Disclosure`] when the profile cannot be applied (noise
/// without a secret); [`ProtectError::Mismatch`] when `result` is not of
/// `query`'s output.
pub fn protect(
    query: &Query,
    result: &QueryResult,
    grid: &KeyGrid<'_>,
    profile: &Profile,
    secret: &[u8],
) -> Result<ProtectedOutput, ProtectError> {
    protect_guarded(query, result, grid, profile, secret, None).map(|(o, _)| o)
}

/// As [`protect`], with the differencing guard deciding every number (in
/// the fixed order of [`Protector`]); returns the guard session, whose new
/// anchors the caller stores.
///
/// Noise is keyed by the persons behind each number: the result's
/// [`QueryResult::prints`]. A result without prints (an engine without
/// person tags) gets noise keyed by the counts alone, and cannot be
/// guarded.
///
/// # Errors
/// As [`protect`]; [`ProtectError::Mismatch`] when a guard is given and the
/// result has no prints.
pub fn protect_guarded(
    query: &Query,
    result: &QueryResult,
    grid: &KeyGrid<'_>,
    profile: &Profile,
    secret: &[u8],
    guard: Option<GuardSession>,
) -> Result<(ProtectedOutput, Option<GuardSession>), ProtectError> {
    let guarded = guard.is_some();
    let prints = Prints::of(result)?;
    if guarded && !prints.keyed {
        return Err(ProtectError::Mismatch(
            "the differencing guard needs the persons' prints; give the engine person tags",
        ));
    }
    let mut p = Protector::new(profile, &Release { secret })?;
    if let Some(g) = guard {
        p = p.with_guard(g);
    }
    let out = release(&p, query, result, grid, &prints)?;
    Ok((out, p.into_guard()))
}

/// The print behind each number the engine reported, in result order (or
/// unkeyed prints of the counts).
struct Prints {
    keyed: bool,
    list: Vec<SetPrint>,
}

impl Prints {
    fn of(result: &QueryResult) -> Result<Prints, ProtectError> {
        let counts: Vec<u64> = match &result.output {
            OutputResult::Count { count } => vec![*count],
            OutputResult::Funnel { steps } => steps.iter().map(|s| s.count).collect(),
            OutputResult::Proportion {
                numerator,
                denominator,
            } => vec![*numerator, *denominator],
            OutputResult::Strata { cells, .. } => cells.iter().map(|c| c.count).collect(),
            OutputResult::TimeSeries { points, .. } => points.iter().map(|p| p.count).collect(),
        };
        // A result with no numbers of its own (strata or a series over an
        // empty cohort: every cell of the grid is an empty set) needs no
        // prints, and is as keyed as any other.
        if counts.is_empty() {
            return Ok(Prints {
                keyed: true,
                list: Vec::new(),
            });
        }
        if result.prints.is_empty() {
            return Ok(Prints {
                keyed: false,
                list: counts.into_iter().map(SetPrint::unkeyed).collect(),
            });
        }
        if result.prints.len() != counts.len()
            || result
                .prints
                .iter()
                .zip(&counts)
                .any(|(p, c)| p.count() != *c)
        {
            return Err(ProtectError::Mismatch(
                "the prints do not match the result's numbers",
            ));
        }
        Ok(Prints {
            keyed: true,
            list: result.prints.clone(),
        })
    }

    fn get(&self, i: usize) -> SetPrint {
        self.list.get(i).cloned().unwrap_or_default()
    }
}

fn release(
    p: &Protector<'_>,
    query: &Query,
    result: &QueryResult,
    grid: &KeyGrid<'_>,
    prints: &Prints,
) -> Result<ProtectedOutput, ProtectError> {
    let bands = age_bands_of(&query.output);
    match &result.output {
        OutputResult::Count { .. } => Ok(ProtectedOutput::Count {
            count: Number::from(&p.count(prints.get(0))),
        }),
        OutputResult::Funnel { steps } => {
            let sets: Vec<SetPrint> = (0..steps.len()).map(|i| prints.get(i)).collect();
            let shown = p.funnel(&sets);
            Ok(ProtectedOutput::Funnel {
                steps: steps
                    .iter()
                    .zip(&shown)
                    .map(|(s, v)| FunnelStepOut {
                        label: s.label.clone(),
                        kind: s.kind.clone(),
                        count: Number::from(v),
                    })
                    .collect(),
            })
        }
        OutputResult::Proportion { .. } => {
            let pp = p.proportion(prints.get(0), prints.get(1))?;
            Ok(ProtectedOutput::Proportion {
                numerator: Number::from(&pp.numerator),
                denominator: Number::from(&pp.denominator),
                percent: pp.percent,
                percent_display: pp.percent_display,
            })
        }
        OutputResult::Strata {
            dimensions, cells, ..
        } => {
            let names: Vec<String> = dimensions.iter().map(|d| d.as_str().to_string()).collect();
            let seen = |i: usize| -> BTreeSet<String> {
                cells.iter().filter_map(|c| c.key.get(i).cloned()).collect()
            };
            match dimensions.as_slice() {
                [d] => {
                    let keys = grid.keys(*d, &bands, &seen(0));
                    let counts: BTreeMap<&str, SetPrint> = cells
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| c.key.first().map(|k| (k.as_str(), prints.get(i))))
                        .collect();
                    let values: Vec<SetPrint> = keys
                        .iter()
                        .map(|k| counts.get(k.as_str()).cloned().unwrap_or_default())
                        .collect();
                    let s = p.strata(&values).map_err(table_error)?;
                    Ok(ProtectedOutput::Strata {
                        dimensions: names,
                        cells: keys
                            .iter()
                            .zip(&s.cells)
                            .map(|(k, v)| StratumOut {
                                key: vec![k.clone()],
                                count: Number::from(v),
                            })
                            .collect(),
                        margins: Vec::new(),
                        total: Number::from(&s.total),
                    })
                }
                [d1, d2] => {
                    let rows = grid.keys(*d1, &bands, &seen(0));
                    let cols = grid.keys(*d2, &bands, &seen(1));
                    let counts: BTreeMap<(&str, &str), SetPrint> = cells
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| match c.key.as_slice() {
                            [a, b] => Some(((a.as_str(), b.as_str()), prints.get(i))),
                            _ => None,
                        })
                        .collect();
                    let t = two_way(p, &rows, &cols, &counts)?;
                    let mut out_cells = Vec::new();
                    for (r, rk) in rows.iter().enumerate() {
                        for (c, ck) in cols.iter().enumerate() {
                            if let Some(v) = t.cells.get(r).and_then(|row| row.get(c)) {
                                out_cells.push(StratumOut {
                                    key: vec![rk.clone(), ck.clone()],
                                    count: Number::from(v),
                                });
                            }
                        }
                    }
                    Ok(ProtectedOutput::Strata {
                        dimensions: names,
                        cells: out_cells,
                        margins: margins(d1.as_str(), &rows, d2.as_str(), &cols, &t),
                        total: Number::from(&t.total),
                    })
                }
                _ => Err(ProtectError::Query {
                    path: "$.output.by".into(),
                    message: "give one dimension or two".into(),
                }),
            }
        }
        OutputResult::TimeSeries {
            interval,
            by,
            points,
            ..
        } => {
            let Output::TimeSeries { from, to, .. } = &query.output else {
                return Err(ProtectError::Mismatch(
                    "a time-series result for another output",
                ));
            };
            let period_list = periods(*from, *to, *interval);
            let interval_name = match interval {
                Interval::Month => "month",
                Interval::Year => "year",
            };
            match by {
                None => {
                    let counts: BTreeMap<&str, SetPrint> = points
                        .iter()
                        .enumerate()
                        .map(|(i, pt)| (pt.period.as_str(), prints.get(i)))
                        .collect();
                    let values: Vec<SetPrint> = period_list
                        .iter()
                        .map(|k| counts.get(k.as_str()).cloned().unwrap_or_default())
                        .collect();
                    let s = p.time_series(&values).map_err(table_error)?;
                    Ok(ProtectedOutput::TimeSeries {
                        interval: interval_name.into(),
                        by: None,
                        points: period_list
                            .iter()
                            .zip(&s.cells)
                            .map(|(k, v)| PointOut {
                                period: k.clone(),
                                key: None,
                                count: Number::from(v),
                            })
                            .collect(),
                        margins: Vec::new(),
                        total: Number::from(&s.total),
                    })
                }
                Some(d) => {
                    let key_of = |k: &Option<String>| k.as_deref().unwrap_or("unknown").to_string();
                    let seen: BTreeSet<String> = points.iter().map(|pt| key_of(&pt.key)).collect();
                    let cols = grid.keys(*d, &bands, &seen);
                    let mut counts: BTreeMap<(&str, String), SetPrint> = BTreeMap::new();
                    for (i, pt) in points.iter().enumerate() {
                        let e = counts
                            .entry((pt.period.as_str(), key_of(&pt.key)))
                            .or_default();
                        *e = e.add(&prints.get(i));
                    }
                    let counts: BTreeMap<(&str, &str), SetPrint> = counts
                        .iter()
                        .map(|((per, k), n)| ((*per, k.as_str()), n.clone()))
                        .collect();
                    let t = two_way(p, &period_list, &cols, &counts)?;
                    let mut out = Vec::new();
                    for (r, period) in period_list.iter().enumerate() {
                        for (c, k) in cols.iter().enumerate() {
                            if let Some(v) = t.cells.get(r).and_then(|row| row.get(c)) {
                                out.push(PointOut {
                                    period: period.clone(),
                                    key: Some(k.clone()),
                                    count: Number::from(v),
                                });
                            }
                        }
                    }
                    Ok(ProtectedOutput::TimeSeries {
                        interval: interval_name.into(),
                        by: Some(d.as_str().to_string()),
                        points: out,
                        margins: margins("period", &period_list, d.as_str(), &cols, &t),
                        total: Number::from(&t.total),
                    })
                }
            }
        }
    }
}

/// The row margins (dimension `row_dim`), then the column margins.
fn margins(
    row_dim: &str,
    rows: &[String],
    col_dim: &str,
    cols: &[String],
    t: &ProtectedTable,
) -> Vec<MarginOut> {
    let side = |dim: &str, keys: &[String], values: &[halsohub_disclosure::ProtectedValue]| {
        keys.iter()
            .zip(values)
            .map(|(k, v)| MarginOut {
                dimension: dim.to_string(),
                key: k.clone(),
                count: Number::from(v),
            })
            .collect::<Vec<_>>()
    };
    let mut out = side(row_dim, rows, &t.row_totals);
    out.extend(side(col_dim, cols, &t.column_totals));
    out
}

/// A two-way table over the complete grid `rows` × `cols` (absent cells
/// are 0), refused before it is built when it is too large.
fn two_way(
    p: &Protector<'_>,
    rows: &[String],
    cols: &[String],
    counts: &BTreeMap<(&str, &str), SetPrint>,
) -> Result<ProtectedTable, ProtectError> {
    let size = rows.len().saturating_mul(cols.len());
    if size > MAX_TABLE_CELLS {
        return Err(table_error(DisclosureError::TableTooLarge {
            cells: size,
            max: MAX_TABLE_CELLS,
        }));
    }
    let grid: Vec<Vec<SetPrint>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    counts
                        .get(&(r.as_str(), c.as_str()))
                        .cloned()
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    p.table(&grid).map_err(table_error)
}
