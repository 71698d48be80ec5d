//! Rates as exact decimals: loss ratios, growth, execution, arrival, repayment, PAR30 and revolving rounds.
//!
//! Every percentage is computed in integer fen arithmetic (`i128`), then rounded once,
//! half away from zero, to two decimals of a percent. A zero denominator gives `None`:
//! the rate is undefined, and reports must say so rather than show 0% or 100%.

use std::fmt;

use rust_decimal::Decimal;

use crate::money::Money;

/// A percentage with exactly two decimals, e.g. 73.13 for 73.13%. It can exceed 100
/// (claims above premiums) and be negative (a fall year on year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(Decimal);

impl Percent {
    /// The percentage as a decimal with two places (73.13, not 0.7313).
    pub fn value(self) -> Decimal {
        self.0
    }

    /// Hundredths of a percent (7313 for 73.13%).
    pub fn basis_points(self) -> i128 {
        self.0.mantissa()
    }
}

/// A decimal string with two places and no sign of percent: `"73.13"` for 73.13%, like
/// money (never a JSON number, never a float).
impl serde::Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bp = self.basis_points();
        let sign = if bp < 0 { "-" } else { "" };
        let abs = bp.unsigned_abs();
        serializer.collect_str(&format_args!("{sign}{}.{:02}", abs / 100, abs % 100))
    }
}

impl fmt::Display for Percent {
    /// `73.13%`, `-5.00%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bp = self.basis_points();
        let sign = if bp < 0 { "-" } else { "" };
        let abs = bp.unsigned_abs();
        write!(f, "{sign}{}.{:02}%", abs / 100, abs % 100)
    }
}

/// Integer division rounded half away from zero.
fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    let negative = (numerator < 0) != (denominator < 0);
    let n = numerator.unsigned_abs();
    let d = denominator.unsigned_abs();
    let q = (2 * n + d) / (2 * d);
    let q = i128::try_from(q).expect("a percentage of ledger amounts fits in i128");
    if negative {
        -q
    } else {
        q
    }
}

/// `numerator ÷ denominator × 100`, rounded half away from zero to two decimals;
/// `None` when the denominator is zero.
pub fn percent_of_counts(numerator: i128, denominator: i128) -> Option<Percent> {
    if denominator == 0 {
        return None;
    }
    let hundredths = div_round_half_away(numerator * 10_000, denominator);
    Some(Percent(Decimal::from_i128_with_scale(hundredths, 2)))
}

/// `numerator ÷ denominator` as a percentage (see `percent_of_counts`), on amounts.
pub fn percent_of(numerator: Money, denominator: Money) -> Option<Percent> {
    percent_of_counts(numerator.fen_i128(), denominator.fen_i128())
}

/// Simple loss ratio (简单赔付率) = claims paid (已决赔款) ÷ premium income (税后保费收入),
/// same period and policy line.
pub fn simple_loss_ratio(claims_paid: Money, premium_income: Money) -> Option<Percent> {
    percent_of(claims_paid, premium_income)
}

/// Incurred loss ratio = (claims paid + outstanding-claims reserve 未决) ÷ premium income.
pub fn incurred_loss_ratio(
    claims_paid: Money,
    outstanding_reserve: Money,
    premium_income: Money,
) -> Option<Percent> {
    percent_of(claims_paid + outstanding_reserve, premium_income)
}

/// Year-on-year growth (同比增长) = (this period − same period last year) ÷ same period last year.
pub fn year_on_year_growth(this_period: Money, last_year: Money) -> Option<Percent> {
    percent_of(this_period - last_year, last_year)
}

/// Year-on-year growth of a count (households, students, claims).
pub fn year_on_year_growth_of_counts(this_period: u64, last_year: u64) -> Option<Percent> {
    percent_of_counts(
        i128::from(this_period) - i128::from(last_year),
        i128::from(last_year),
    )
}

/// Budget execution rate = disbursed ÷ appropriated (committed), per fund and period.
pub fn budget_execution_rate(disbursed: Money, appropriated: Money) -> Option<Percent> {
    percent_of(disbursed, appropriated)
}

/// Tier arrival rate (资金到位率) = received ÷ committed, per fund and tier.
pub fn arrival_rate(received: Money, committed: Money) -> Option<Percent> {
    percent_of(received, committed)
}

/// Repayment rate = principal repaid on time ÷ principal due so far.
pub fn repayment_rate(repaid_on_time: Money, due_so_far: Money) -> Option<Percent> {
    percent_of(repaid_on_time, due_so_far)
}

/// Portfolio at risk (PAR30) = outstanding principal of loans with an instalment more
/// than 30 days past due ÷ all outstanding principal.
pub fn portfolio_at_risk(at_risk_outstanding: Money, outstanding: Money) -> Option<Percent> {
    percent_of(at_risk_outstanding, outstanding)
}

/// Revolving rounds (轮次) = cumulative principal lent ÷ capital received, truncated (not
/// rounded) to two decimals so that "2.00 rounds" means the capital really turned twice.
pub fn revolving_rounds(lent: Money, capital: Money) -> Option<Decimal> {
    let d = capital.fen_i128();
    if d == 0 {
        return None;
    }
    let hundredths = lent.fen_i128() * 100 / d;
    Some(Decimal::from_i128_with_scale(hundredths, 2))
}
