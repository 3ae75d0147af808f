//! The complete key grid of a stratification or split time series: every
//! value a dimension can take in the served snapshot, whatever the cohort,
//! so that an absent cell cannot tell a 0 from a 1..4.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use halsohub_cohort::Dimension;
use halsohub_cohort::Engine;
use halsohub_cohort::codeset::age_band_label;

/// The key universe of one snapshot: the engine's regions and providers
/// and the snapshot's calendar years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGrid<'a> {
    regions: &'a [String],
    providers: &'a [String],
    years: Option<(i32, i32)>,
}

impl<'a> KeyGrid<'a> {
    /// The grid of `engine`'s snapshot; `event_dates` is its first and last
    /// event date (from the store manifest). Without them the years of a
    /// `calendar_year` stratum are those observed, with the gaps filled.
    #[must_use]
    pub fn new(engine: &'a Engine, event_dates: Option<(NaiveDate, NaiveDate)>) -> KeyGrid<'a> {
        KeyGrid::from_parts(engine.region_names(), engine.provider_names(), event_dates)
    }

    /// The grid from its parts: every region and provider (sorted, as the
    /// engine lists them) and the first and last event date.
    #[must_use]
    pub fn from_parts(
        regions: &'a [String],
        providers: &'a [String],
        event_dates: Option<(NaiveDate, NaiveDate)>,
    ) -> KeyGrid<'a> {
        KeyGrid {
            regions,
            providers,
            years: event_dates.map(|(first, last)| (first.year(), last.year())),
        }
    }

    /// The complete, ordered key set of `dim`: every value it can take,
    /// then `unknown`, then (defensively) any key the engine produced
    /// beyond them. `bands` are the output's age-band lower bounds.
    #[must_use]
    pub fn keys(&self, dim: Dimension, bands: &[u32], observed: &BTreeSet<String>) -> Vec<String> {
        let mut keys: Vec<String> = match dim {
            Dimension::Sex => vec!["F".into(), "M".into()],
            Dimension::AgeBand => {
                let mut labels: Vec<String> = Vec::new();
                for lo in std::iter::once(0).chain(bands.iter().copied()) {
                    let l = age_band_label(lo, bands);
                    if !labels.contains(&l) {
                        labels.push(l);
                    }
                }
                labels
            }
            Dimension::Region => self.regions.to_vec(),
            Dimension::Provider => self.providers.to_vec(),
            Dimension::CalendarYear => {
                let range = self.years.or_else(|| {
                    let years: Vec<i32> = observed.iter().filter_map(|k| k.parse().ok()).collect();
                    years.iter().min().copied().zip(years.iter().max().copied())
                });
                match range {
                    Some((lo, hi)) => (lo..=hi).map(|y| y.to_string()).collect(),
                    None => Vec::new(),
                }
            }
        };
        keys.push("unknown".into());
        for k in observed {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn keys_do_not_depend_on_the_cohort() {
        let regions = vec!["01".to_string(), "03".to_string()];
        let providers = vec!["P0".to_string()];
        let d = |y| NaiveDate::from_ymd_opt(y, 6, 1).unwrap();
        let g = KeyGrid::from_parts(&regions, &providers, Some((d(2019), d(2021))));
        assert_eq!(
            g.keys(Dimension::Sex, &[], &set(&[])),
            ["F", "M", "unknown"]
        );
        assert_eq!(
            g.keys(Dimension::Sex, &[], &set(&["M"])),
            ["F", "M", "unknown"]
        );
        assert_eq!(
            g.keys(Dimension::AgeBand, &[0, 18, 65], &set(&["65+"])),
            ["0-17", "18-64", "65+", "unknown"]
        );
        assert_eq!(
            g.keys(Dimension::Region, &[], &set(&["03"])),
            ["01", "03", "unknown"]
        );
        assert_eq!(
            g.keys(Dimension::Provider, &[], &set(&[])),
            ["P0", "unknown"]
        );
        assert_eq!(
            g.keys(Dimension::CalendarYear, &[], &set(&["2020"])),
            ["2019", "2020", "2021", "unknown"]
        );
        // a key beyond the known domain is kept, after the known ones
        assert_eq!(
            g.keys(Dimension::Region, &[], &set(&["99"])),
            ["01", "03", "unknown", "99"]
        );
    }

    #[test]
    fn years_without_snapshot_dates_are_the_observed_span_filled() {
        let g = KeyGrid::from_parts(&[], &[], None);
        assert_eq!(
            g.keys(
                Dimension::CalendarYear,
                &[],
                &set(&["2018", "2021", "unknown"])
            ),
            ["2018", "2019", "2020", "2021", "unknown"]
        );
        assert_eq!(g.keys(Dimension::CalendarYear, &[], &set(&[])), ["unknown"]);
    }
}
