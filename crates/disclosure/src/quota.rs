//! Per-user query quotas: a pure policy and a thread-safe in-memory ledger.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The window a quota counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaWindow {
    /// The last 60 seconds (sliding).
    Minute,
    /// The last 7 days (sliding).
    Week,
}

impl QuotaWindow {
    /// Length of the window.
    #[must_use]
    pub fn length(self) -> TimeDelta {
        match self {
            QuotaWindow::Minute => TimeDelta::seconds(60),
            QuotaWindow::Week => TimeDelta::days(7),
        }
    }

    fn name(self) -> &'static str {
        match self {
            QuotaWindow::Minute => "minute",
            QuotaWindow::Week => "week",
        }
    }
}

/// A query was refused because a quota is used up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error(
    "query quota exceeded: at most {limit} queries per {} — try again in {} s",
    window.name(),
    self.retry_after_secs()
)]
pub struct QuotaExceeded {
    /// Wait at least this long before the next query is admitted.
    pub retry_after: Duration,
    /// The window whose limit is reached (the longer wait if both are).
    pub window: QuotaWindow,
    /// The limit in that window.
    pub limit: u32,
}

impl QuotaExceeded {
    /// Whole seconds to wait, rounded up and at least 1 — for an HTTP
    /// `Retry-After` header.
    #[must_use]
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let secs = if self.retry_after.subsec_nanos() > 0 {
            secs.saturating_add(1)
        } else {
            secs
        };
        secs.max(1)
    }
}

/// Per-user limits on feasibility queries, over sliding windows.
///
/// Defaults: 30 per minute (enough for an interactive UI that re-counts as
/// criteria are edited; the German MII's 3/min is too low for that) and
/// 1000 per week (bounds how many differencing / averaging probes one user
/// can make). A limit of 0 refuses every query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaPolicy {
    /// Queries per sliding minute.
    pub per_minute: u32,
    /// Queries per sliding week.
    pub per_week: u32,
}

impl Default for QuotaPolicy {
    fn default() -> Self {
        QuotaPolicy {
            per_minute: 30,
            per_week: 1000,
        }
    }
}

impl QuotaPolicy {
    /// Decides whether one more query at `now` is admitted, given the times
    /// of the user's earlier admitted queries (any order; entries older than
    /// a week are ignored, entries after `now` count as in the window).
    ///
    /// # Errors
    /// [`QuotaExceeded`] naming the window, its limit and when to retry.
    pub fn check(
        &self,
        history: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Result<(), QuotaExceeded> {
        let mut worst: Option<QuotaExceeded> = None;
        for (window, limit) in [
            (QuotaWindow::Minute, self.per_minute),
            (QuotaWindow::Week, self.per_week),
        ] {
            let start = now - window.length();
            let mut inside: Vec<DateTime<Utc>> =
                history.iter().copied().filter(|t| *t > start).collect();
            let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
            if inside.len() < limit_usize {
                continue;
            }
            // The query is admitted once all but limit-1 of these have left
            // the window: when the (len - limit + 1)-th oldest leaves it.
            inside.sort_unstable();
            let retry_after = match inside.len().checked_sub(limit_usize) {
                Some(k) => inside
                    .get(k)
                    .map(|t| {
                        (*t + window.length() - now)
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                    })
                    .unwrap_or(Duration::ZERO),
                None => Duration::ZERO,
            };
            // limit 0: never admitted; report the whole window
            let retry_after = if limit == 0 {
                window.length().to_std().unwrap_or(Duration::ZERO)
            } else {
                retry_after
            };
            let candidate = QuotaExceeded {
                retry_after,
                window,
                limit,
            };
            if worst
                .as_ref()
                .is_none_or(|w| candidate.retry_after > w.retry_after)
            {
                worst = Some(candidate);
            }
        }
        match worst {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Why a quota store did not admit a query.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError<E: std::error::Error + 'static> {
    /// The user's quota is used up.
    #[error(transparent)]
    Exceeded(#[from] QuotaExceeded),
    /// The store failed (e.g. the state database is unavailable).
    #[error("quota store failed: {0}")]
    Store(#[source] E),
}

/// A place that remembers admitted queries per user and admits or refuses
/// the next one atomically. [`QuotaLedger`] keeps them in memory; a
/// persistent store on the state database implements the same trait.
pub trait QuotaStore {
    /// Failure of the store itself.
    type Error: std::error::Error + 'static;

    /// Checks `policy` for `user` at `now` and, if admitted, records the
    /// query — as one atomic step, so concurrent requests cannot overrun.
    ///
    /// # Errors
    /// [`AdmitError::Exceeded`] when the quota is used up (nothing is
    /// recorded), [`AdmitError::Store`] when the store fails.
    fn admit(
        &self,
        policy: &QuotaPolicy,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AdmitError<Self::Error>>;
}

/// Thread-safe in-memory [`QuotaStore`]; forgets entries older than a week.
#[derive(Debug, Default)]
pub struct QuotaLedger {
    users: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl QuotaLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Admitted queries of `user` within the last week before `now`.
    #[must_use]
    pub fn used(&self, user: &str, now: DateTime<Utc>) -> usize {
        let users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = now - QuotaWindow::Week.length();
        users
            .get(user)
            .map_or(0, |h| h.iter().filter(|t| **t > start).count())
    }
}

impl QuotaStore for QuotaLedger {
    type Error = Infallible;

    fn admit(
        &self,
        policy: &QuotaPolicy,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AdmitError<Infallible>> {
        // A poisoned lock only means another thread panicked mid-update of
        // a VecDeque of timestamps; the data is still usable.
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let history = users.entry(user.to_string()).or_default();
        let start = now - QuotaWindow::Week.length();
        history.retain(|t| *t > start);
        history.make_contiguous();
        let (slice, _) = history.as_slices();
        policy.check(slice, now)?;
        history.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn minute_limit_and_retry_after() {
        let p = QuotaPolicy {
            per_minute: 3,
            per_week: 100,
        };
        let history = [at(0), at(10), at(20)];
        let e = p.check(&history, at(30)).unwrap_err();
        assert_eq!(e.window, QuotaWindow::Minute);
        assert_eq!(e.limit, 3);
        assert_eq!(e.retry_after, Duration::from_secs(30));
        assert!(e.to_string().contains("3 queries per minute"), "{e}");
        assert!(e.to_string().contains("try again in 30 s"), "{e}");
        assert_eq!(e.retry_after_secs(), 30);
        let sub = QuotaExceeded {
            retry_after: Duration::from_millis(1500),
            window: QuotaWindow::Minute,
            limit: 1,
        };
        assert_eq!(sub.retry_after_secs(), 2);
        let zero = QuotaExceeded {
            retry_after: Duration::ZERO,
            ..sub
        };
        assert_eq!(zero.retry_after_secs(), 1);
        // at(60) the first has left the window (window is (now-60, now])
        assert!(p.check(&history, at(60)).is_ok());
        assert!(p.check(&history[..2], at(30)).is_ok());
    }

    #[test]
    fn week_limit_reports_the_longer_wait() {
        let p = QuotaPolicy {
            per_minute: 2,
            per_week: 3,
        };
        let history = [at(0), at(100), at(200)];
        let e = p.check(&history, at(210)).unwrap_err();
        assert_eq!(e.window, QuotaWindow::Week);
        assert_eq!(e.retry_after, Duration::from_secs(7 * 86_400 - 210));
        // both exceeded: the week's wait is longer
        let e = p.check(&[at(0), at(205), at(206)], at(207)).unwrap_err();
        assert_eq!(e.window, QuotaWindow::Week);
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let p = QuotaPolicy {
            per_minute: 0,
            per_week: 10,
        };
        let e = p.check(&[], at(0)).unwrap_err();
        assert_eq!(e.window, QuotaWindow::Minute);
        assert_eq!(e.retry_after, Duration::from_secs(60));
    }

    #[test]
    fn defaults_are_interactive_but_bounded() {
        let p = QuotaPolicy::default();
        assert_eq!((p.per_minute, p.per_week), (30, 1000));
    }

    #[test]
    fn ledger_admits_up_to_the_limit_per_user() {
        let ledger = QuotaLedger::new();
        let p = QuotaPolicy {
            per_minute: 2,
            per_week: 10,
        };
        assert!(ledger.admit(&p, "anna", at(0)).is_ok());
        assert!(ledger.admit(&p, "anna", at(1)).is_ok());
        let e = ledger.admit(&p, "anna", at(2)).unwrap_err();
        assert!(matches!(
            e,
            AdmitError::Exceeded(QuotaExceeded { limit: 2, .. })
        ));
        // refused queries are not recorded
        assert_eq!(ledger.used("anna", at(2)), 2);
        // other users are independent
        assert!(ledger.admit(&p, "bo", at(2)).is_ok());
        assert!(ledger.admit(&p, "anna", at(61)).is_ok());
        // entries older than a week are forgotten
        assert_eq!(ledger.used("anna", at(8 * 86_400)), 0);
    }

    #[test]
    fn ledger_is_safe_across_threads() {
        let ledger = std::sync::Arc::new(QuotaLedger::new());
        let p = QuotaPolicy {
            per_minute: 50,
            per_week: 1000,
        };
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = ledger.clone();
                std::thread::spawn(move || {
                    (0..30).filter(|_| l.admit(&p, "u", at(0)).is_ok()).count()
                })
            })
            .collect();
        let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(admitted, 50, "exactly the limit is admitted, never more");
    }

    proptest::proptest! {
        /// `retry_after` is exactly the wait after which the query is
        /// admitted: not a second earlier (reference: re-check over time).
        #[test]
        fn retry_after_is_the_shortest_wait(
            offsets in proptest::collection::vec(0i64..1_000_000, 0..40),
            per_minute in 1u32..6,
            per_week in 1u32..30,
            now in 0i64..1_000_000,
        ) {
            let p = QuotaPolicy { per_minute, per_week };
            let history: Vec<DateTime<Utc>> = offsets.iter().map(|&o| at(o)).collect();
            let now = at(now);
            match p.check(&history, now) {
                Ok(()) => {
                    // reference: count inside each window directly
                    let inside = |w: QuotaWindow| history.iter().filter(|t| **t > now - w.length()).count();
                    proptest::prop_assert!(inside(QuotaWindow::Minute) < per_minute as usize);
                    proptest::prop_assert!(inside(QuotaWindow::Week) < per_week as usize);
                }
                Err(e) => {
                    let wait = TimeDelta::from_std(e.retry_after).unwrap();
                    proptest::prop_assert!(p.check(&history, now + wait).is_ok());
                    if wait >= TimeDelta::seconds(1) {
                        proptest::prop_assert!(p.check(&history, now + wait - TimeDelta::seconds(1)).is_err());
                    }
                }
            }
        }
    }
}
