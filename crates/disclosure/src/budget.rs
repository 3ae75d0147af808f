//! The privacy budget: how many numbers a user may be shown per period.
//!
//! Quotas count queries; one query can release hundreds of numbers (a
//! funnel of 100 steps, a table of 300 cells), and every released number
//! tells something. The budget counts **released numbers** — every count,
//! funnel step, cell, margin, total, series point, numerator, remainder and
//! denominator — and is charged *before* evaluation from the query's shape
//! alone ([`BudgetPolicy::charge`] takes the cost the caller computed from
//! the shape), so the charge reveals nothing about the data. An exact
//! repeat of a query already charged in the period (same canonical hash on
//! the same snapshot) is free: it returns the very same numbers.
//!
//! The budget is global per user (all tokens, sessions, servers and
//! snapshots) and renews at fixed period boundaries counted from the Unix
//! epoch (for a 7-day period: every Thursday 00:00 UTC), so the renewal time
//! is one definite instant that every answer can state.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DisclosureError;

/// How many numbers a user may be shown per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetPolicy {
    /// Released numbers per period.
    pub numbers: u64,
    /// Period length in days (at least 1).
    pub period_days: u32,
}

impl Default for BudgetPolicy {
    /// 2000 numbers per 7 days.
    fn default() -> Self {
        BudgetPolicy {
            numbers: 2000,
            period_days: 7,
        }
    }
}

/// A user's budget after a charge (or as it stands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// Numbers per period.
    pub limit: u64,
    /// Numbers left in this period.
    pub remaining: u64,
    /// When the next period starts (the budget renews).
    pub renews_at: DateTime<Utc>,
}

/// The budget cannot pay for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "privacy budget exhausted: this query would release {cost} numbers and {remaining} of {limit} are left this period; the budget renews at {renews_at} (in {retry_after_secs} s)"
)]
pub struct BudgetExceeded {
    /// Numbers the query would release.
    pub cost: u64,
    /// Numbers left.
    pub remaining: u64,
    /// Numbers per period.
    pub limit: u64,
    /// When the budget renews.
    pub renews_at: DateTime<Utc>,
    /// Seconds until then (for `Retry-After`).
    pub retry_after_secs: u64,
}

impl BudgetPolicy {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`DisclosureError::InvalidProfile`] naming the field.
    pub fn validate(&self) -> Result<(), DisclosureError> {
        if self.numbers == 0 {
            return Err(DisclosureError::InvalidProfile {
                field: "budget.numbers",
                reason: "must be at least 1".into(),
            });
        }
        if self.period_days == 0 || self.period_days > 366 {
            return Err(DisclosureError::InvalidProfile {
                field: "budget.period_days",
                reason: format!("{} is not within 1..=366", self.period_days),
            });
        }
        Ok(())
    }

    /// The period containing `now`: `[start, end)`.
    #[must_use]
    pub fn period(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let len_ms = i64::from(self.period_days.max(1)) * 86_400_000;
        let ms = now.timestamp_millis();
        let start_ms = ms.div_euclid(len_ms) * len_ms;
        let at = |m: i64| DateTime::<Utc>::from_timestamp_millis(m).unwrap_or(now);
        (at(start_ms), at(start_ms.saturating_add(len_ms)))
    }

    /// The budget of a user who has spent `spent` numbers in the period of
    /// `now`.
    #[must_use]
    pub fn status(&self, spent: u64, now: DateTime<Utc>) -> BudgetStatus {
        BudgetStatus {
            limit: self.numbers,
            remaining: self.numbers.saturating_sub(spent),
            renews_at: self.period(now).1,
        }
    }

    /// Charges `cost` numbers to a user who has spent `spent` this period:
    /// the status after the charge, or why it cannot be paid.
    ///
    /// # Errors
    /// [`BudgetExceeded`] when fewer than `cost` numbers are left.
    pub fn charge(
        &self,
        spent: u64,
        cost: u64,
        now: DateTime<Utc>,
    ) -> Result<BudgetStatus, BudgetExceeded> {
        let status = self.status(spent, now);
        if cost > status.remaining {
            let secs = (status.renews_at - now)
                .max(TimeDelta::zero())
                .num_seconds();
            return Err(BudgetExceeded {
                cost,
                remaining: status.remaining,
                limit: status.limit,
                renews_at: status.renews_at,
                retry_after_secs: u64::try_from(secs).unwrap_or(0).max(1),
            });
        }
        Ok(BudgetStatus {
            remaining: status.remaining - cost,
            ..status
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn charges_until_spent_and_says_when_it_renews() {
        let p = BudgetPolicy {
            numbers: 10,
            period_days: 7,
        };
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (start, end) = p.period(now);
        assert!(start <= now && now < end);
        assert_eq!(end - start, TimeDelta::days(7));
        assert_eq!(p.charge(0, 4, now).unwrap().remaining, 6);
        assert_eq!(p.charge(6, 4, now).unwrap().remaining, 0);
        let e = p.charge(7, 4, now).unwrap_err();
        assert_eq!(e.remaining, 3);
        assert_eq!(e.renews_at, end);
        assert!(e.retry_after_secs > 0);
        assert!(e.to_string().contains("renews at"));
        // the next period starts afresh
        assert_eq!(p.period(end).0, end);
    }

    #[test]
    fn policy_is_validated() {
        assert!(BudgetPolicy::default().validate().is_ok());
        assert!(
            BudgetPolicy {
                numbers: 0,
                period_days: 7
            }
            .validate()
            .is_err()
        );
        assert!(
            BudgetPolicy {
                numbers: 5,
                period_days: 0
            }
            .validate()
            .is_err()
        );
    }
}
