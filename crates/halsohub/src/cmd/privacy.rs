//! `halsohub serve`'s privacy-budget and differencing-guard flags. Both
//! are on by default; turning either off is for trusted audiences only
//! (see docs/disclosure.md).

use clap::{Args, ValueEnum};
use halsohub_app::feasibility::{BudgetPolicy, Feasibility, GuardPolicy, SetupError};

/// Whose earlier answers the guard compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GuardScope {
    /// Every user's (against colluding accounts).
    Shared,
    /// Only the asking user's.
    User,
}

/// Privacy budget and differencing guard for API answers.
#[derive(Debug, Clone, Args)]
pub struct PrivacyArgs {
    /// Released numbers per user per budget period (every count, funnel
    /// step, cell, margin and series point costs one; an exact repeat is
    /// free), or `off`.
    #[arg(long, default_value = "2000", value_name = "N|off", value_parser = parse_budget)]
    pub budget: Budget,
    /// Length of a budget period in days (periods start on Thursdays
    /// 00:00 UTC for 7 days).
    #[arg(long, default_value_t = BudgetPolicy::default().period_days, value_name = "DAYS")]
    pub budget_period_days: u32,
    /// Turn the differencing guard off (`--no-guard`): near sets then get
    /// independent noise. Trusted audiences only.
    #[arg(long)]
    pub no_guard: bool,
    /// Sets within this many persons of an earlier released set answer
    /// with the earlier number (before the decision noise); at most 8.
    #[arg(long, default_value_t = GuardPolicy::default().radius, value_name = "PERSONS")]
    pub guard_radius: u64,
    /// Whose earlier answers the guard compares with.
    #[arg(long, value_enum, default_value = "shared")]
    pub guard_scope: GuardScope,
}

impl Default for PrivacyArgs {
    fn default() -> Self {
        PrivacyArgs {
            budget: Budget(Some(BudgetPolicy::default().numbers)),
            budget_period_days: BudgetPolicy::default().period_days,
            no_guard: false,
            guard_radius: GuardPolicy::default().radius,
            guard_scope: GuardScope::Shared,
        }
    }
}

/// Numbers per period, or `None` when the budget is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget(pub Option<u64>);

/// `off` or a positive whole number.
pub fn parse_budget(text: &str) -> Result<Budget, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(Budget(None));
    }
    match t.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Budget(Some(n))),
        _ => Err(format!(
            "{t:?} is not a budget; give a positive number of released numbers (e.g. 2000) or off"
        )),
    }
}

impl PrivacyArgs {
    /// The service with this budget and guard.
    ///
    /// # Errors
    /// [`SetupError`] naming the invalid setting.
    pub fn apply(&self, service: Feasibility) -> Result<Feasibility, SetupError> {
        let budget = self.budget.0.map(|numbers| BudgetPolicy {
            numbers,
            period_days: self.budget_period_days,
        });
        let guard = (!self.no_guard).then_some(GuardPolicy {
            radius: self.guard_radius,
            shared: self.guard_scope == GuardScope::Shared,
            ..GuardPolicy::default()
        });
        service.with_budget(budget)?.with_guard(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_and_refuse_nonsense() {
        assert_eq!(parse_budget("2000"), Ok(Budget(Some(2000))));
        assert_eq!(parse_budget("OFF"), Ok(Budget(None)));
        for bad in ["0", "-3", "lots", ""] {
            let e = parse_budget(bad).err().unwrap_or_default();
            assert!(e.contains("not a budget"), "{bad}: {e}");
        }
    }
}
