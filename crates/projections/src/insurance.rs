//! Insurance reports: for a unit's subtree, a policy line and a period, premiums with and without tax, cover, claims, the two loss ratios labelled with their formulas, and year-on-year premium growth.
//!
//! Kept per fund and policy line: premium and claim figures summed per effective date
//! (a reversal subtracts on its own date), and every outstanding-claims reserve
//! estimate with its position and date. The premium base of both loss ratios is the
//! domain's: premium income excluding tax (税后保费收入).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledger_domain::{
    rates, ClaimPayer, Event, FundId, Money, Percent, PolicyLine, Programme, Purpose, Reversible,
    UnitCode,
};
use serde::{Deserialize, Serialize};

use crate::directory::{branch, check_unit, children, Branch, Directory};
use crate::figures::money;
use crate::intern::Keyed;
use crate::query::{DateRange, QueryError};
use crate::{advance, EventRecord, Projection};

/// The simple loss ratio's formula, as reports label it.
pub const SIMPLE_LOSS_RATIO_FORMULA: &str =
    "简单赔付率 = 已决赔款 ÷ 税后保费收入 (claims paid in the period ÷ premium income excluding tax in the period)";
/// The incurred loss ratio's formula, as reports label it.
pub const INCURRED_LOSS_RATIO_FORMULA: &str = "已发生赔付率 = (已决赔款 + 期末未决赔款准备金 − 期初未决赔款准备金) ÷ 税后保费收入 ((claims paid in the period + outstanding-claims reserve at the period's end − reserve at its start) ÷ premium income excluding tax in the period)";
/// The premium growth's formula, as reports label it.
pub const PREMIUM_GROWTH_FORMULA: &str = "同比增长 = (本期税后保费收入 − 上年同期税后保费收入) ÷ 上年同期税后保费收入 ((premium income excluding tax in the period − in the same period a year earlier) ÷ the same period a year earlier)";

/// Premium and claim figures of one day (signed: a reversal subtracts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Day {
    premium_tax_inclusive: i64,
    premium_tax_exclusive: i64,
    households: i64,
    persons: i64,
    claims_count: i64,
    claims_paid_by_insurer: i64,
    claims_paid_by_fund: i64,
}

impl Day {
    fn add(&mut self, other: &Day) {
        let sum = |a: i64, b: i64| a.checked_add(b).expect("insurance figures fit in i64");
        self.premium_tax_inclusive = sum(self.premium_tax_inclusive, other.premium_tax_inclusive);
        self.premium_tax_exclusive = sum(self.premium_tax_exclusive, other.premium_tax_exclusive);
        self.households = sum(self.households, other.households);
        self.persons = sum(self.persons, other.persons);
        self.claims_count = sum(self.claims_count, other.claims_count);
        self.claims_paid_by_insurer =
            sum(self.claims_paid_by_insurer, other.claims_paid_by_insurer);
        self.claims_paid_by_fund = sum(self.claims_paid_by_fund, other.claims_paid_by_fund);
    }

    fn negated(self) -> Day {
        Day {
            premium_tax_inclusive: -self.premium_tax_inclusive,
            premium_tax_exclusive: -self.premium_tax_exclusive,
            households: -self.households,
            persons: -self.persons,
            claims_count: -self.claims_count,
            claims_paid_by_insurer: -self.claims_paid_by_insurer,
            claims_paid_by_fund: -self.claims_paid_by_fund,
        }
    }
}

/// One outstanding-claims reserve estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Estimate {
    position: u64,
    effective_date: NaiveDate,
    fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct LineBook {
    days: BTreeMap<NaiveDate, Day>,
    /// In position order.
    estimates: Vec<Estimate>,
}

impl LineBook {
    fn between(&self, range: DateRange) -> Day {
        let mut sum = Day::default();
        for day in self.days.range(range.from()..=range.to()).map(|(_, d)| d) {
            sum.add(day);
        }
        sum
    }

    /// The reserve in force at the end of `date`: of the estimates effective on or
    /// before it, the one recorded last (a later estimate replaces an earlier one, as in
    /// the domain, even when it is backdated). `None` if there is none.
    fn reserve_at(&self, date: NaiveDate) -> Option<i64> {
        self.estimates
            .iter()
            .rev()
            .find(|e| e.effective_date <= date)
            .map(|e| e.fen)
    }
}

/// Premiums, claims and reserves by fund and policy line (projection `insurance_reports`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InsuranceReports {
    next_position: u64,
    directory: Directory,
    books: Keyed<FundId, BTreeMap<PolicyLine, LineBook>>,
}

/// A rate with the formula it was computed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelledRate {
    /// The rate; `None` when the denominator is zero (undefined, not 0%).
    pub value: Option<Percent>,
    /// The formula, in Chinese and English.
    pub formula: &'static str,
}

/// Insurance figures of a subtree, line and period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InsuranceFigures {
    /// Premiums including tax (the sum of the tier shares).
    pub premium_tax_inclusive: Money,
    /// Premiums excluding tax (税后保费收入): both loss ratios' denominator.
    pub premium_tax_exclusive: Money,
    /// Households covered, summed over the premium records of the period.
    pub households: i64,
    /// Persons covered, summed over the premium records of the period.
    pub persons: i64,
    /// Claims paid in the period (a reversed claim counts −1 on the reversal's date).
    pub claims_count: i64,
    /// Claims paid (已决), by the insurer and by self-insured funds.
    pub claims_paid: Money,
    /// Of which paid by the insurer.
    pub claims_paid_by_insurer: Money,
    /// Of which paid by self-insured funds.
    pub claims_paid_by_fund: Money,
    /// The outstanding-claims reserve (未决) at the period's start, if any was recorded by then.
    pub reserve_at_start: Option<Money>,
    /// The outstanding-claims reserve at the period's end, if any was recorded by then.
    pub reserve_at_end: Option<Money>,
    /// Claims paid ÷ premium income excluding tax.
    pub simple_loss_ratio: LabelledRate,
    /// (claims paid + change in reserve) ÷ premium income excluding tax; present only
    /// where a reserve estimate is in force at the period's end.
    pub incurred_loss_ratio: Option<LabelledRate>,
}

/// The figures of one child unit's subtree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitInsurance {
    /// The child unit.
    pub unit: UnitCode,
    /// Its subtree's figures.
    pub figures: InsuranceFigures,
}

/// An insurance report for a subtree, a policy line and a period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InsuranceReport {
    /// The root of the subtree.
    pub unit: UnitCode,
    /// The policy line.
    pub line: PolicyLine,
    /// The period (by the premium's or claim's effective date).
    pub range: DateRange,
    /// The same period a year earlier.
    pub last_year: DateRange,
    /// The whole subtree.
    pub figures: InsuranceFigures,
    /// The whole subtree a year earlier.
    pub last_year_figures: InsuranceFigures,
    /// Year-on-year growth of premium income excluding tax.
    pub premium_growth: LabelledRate,
    /// Funds held by the root unit itself.
    pub own: InsuranceFigures,
    /// Each direct child's subtree, in unit-code order.
    pub children: Vec<UnitInsurance>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    day: Day,
    reserve_at_start: Option<i64>,
    reserve_at_end: Option<i64>,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.day.add(&other.day);
        let plus = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.reserve_at_start = plus(self.reserve_at_start, other.reserve_at_start);
        self.reserve_at_end = plus(self.reserve_at_end, other.reserve_at_end);
    }

    fn figures(&self) -> InsuranceFigures {
        let d = &self.day;
        let claims_paid = money(d.claims_paid_by_insurer) + money(d.claims_paid_by_fund);
        let premium = money(d.premium_tax_exclusive);
        let incurred = self.reserve_at_end.map(|end| {
            let change = money(end) - money(self.reserve_at_start.unwrap_or(0));
            LabelledRate {
                value: rates::incurred_loss_ratio(claims_paid, change, premium),
                formula: INCURRED_LOSS_RATIO_FORMULA,
            }
        });
        InsuranceFigures {
            premium_tax_inclusive: money(d.premium_tax_inclusive),
            premium_tax_exclusive: premium,
            households: d.households,
            persons: d.persons,
            claims_count: d.claims_count,
            claims_paid,
            claims_paid_by_insurer: money(d.claims_paid_by_insurer),
            claims_paid_by_fund: money(d.claims_paid_by_fund),
            reserve_at_start: self.reserve_at_start.map(money),
            reserve_at_end: self.reserve_at_end.map(money),
            simple_loss_ratio: LabelledRate {
                value: rates::simple_loss_ratio(claims_paid, premium),
                formula: SIMPLE_LOSS_RATIO_FORMULA,
            },
            incurred_loss_ratio: incurred,
        }
    }
}

/// The premium and claim figures a reversible record carries.
fn day_of(record: &Reversible) -> Option<(PolicyLine, Day)> {
    match record {
        Reversible::Premium {
            line,
            shares,
            tax_exclusive,
            households,
            persons,
            ..
        } => Some((
            *line,
            Day {
                premium_tax_inclusive: shares.total().fen().expect("a premium fits in i64 fen"),
                premium_tax_exclusive: tax_exclusive.fen(),
                households: i64::from(*households),
                persons: i64::from(*persons),
                ..Day::default()
            },
        )),
        Reversible::InsurerClaim { line, amount, .. } => Some((
            *line,
            Day {
                claims_count: 1,
                claims_paid_by_insurer: amount.fen(),
                ..Day::default()
            },
        )),
        Reversible::Payment {
            purpose: Purpose::Claim { line },
            shares,
            ..
        } => Some((
            *line,
            Day {
                claims_count: 1,
                claims_paid_by_fund: shares.total().fen().expect("a claim fits in i64 fen"),
                ..Day::default()
            },
        )),
        _ => None,
    }
}

impl Projection for InsuranceReports {
    const NAME: &'static str = "insurance_reports";

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.next_position, record, Self::NAME);
        let r = &record.recorded;
        self.directory.apply(r);
        let (fund, line, day) = match &r.event {
            Event::PremiumCollected {
                fund,
                line,
                households,
                persons,
                tax_inclusive,
                tax_exclusive,
                ..
            } => (
                fund,
                *line,
                Day {
                    premium_tax_inclusive: tax_inclusive.fen(),
                    premium_tax_exclusive: tax_exclusive.fen(),
                    households: i64::from(*households),
                    persons: i64::from(*persons),
                    ..Day::default()
                },
            ),
            Event::ClaimPaid(c) => {
                let mut day = Day {
                    claims_count: 1,
                    ..Day::default()
                };
                match c.payer {
                    ClaimPayer::Insurer => day.claims_paid_by_insurer = c.amount.fen(),
                    ClaimPayer::Fund { .. } => day.claims_paid_by_fund = c.amount.fen(),
                }
                (&c.fund, c.line, day)
            }
            Event::EventReversed { reversed, .. } => match day_of(reversed) {
                Some((line, day)) => (reversed.fund(), line, day.negated()),
                None => return,
            },
            Event::ClaimsReserveEstimated { fund, line, amount } => {
                self.book(fund, *line).estimates.push(Estimate {
                    position: r.position,
                    effective_date: r.effective_date,
                    fen: amount.fen(),
                });
                return;
            }
            _ => return,
        };
        self.book(fund, line)
            .days
            .entry(r.effective_date)
            .or_default()
            .add(&day);
    }

    fn next_position(&self) -> u64 {
        self.next_position
    }
}

impl InsuranceReports {
    fn book(&mut self, fund: &FundId, line: PolicyLine) -> &mut LineBook {
        self.books.entry(fund).entry(line).or_default()
    }

    /// The report for `unit`'s subtree, one policy line and a period (by effective date),
    /// with the same period a year earlier for growth.
    pub fn report(
        &self,
        unit: &UnitCode,
        line: PolicyLine,
        range: DateRange,
    ) -> Result<InsuranceReport, QueryError> {
        let state = self.directory.state();
        check_unit(state, unit)?;
        let last_year = range.a_year_earlier();
        let start = range
            .from()
            .pred_opt()
            .expect("a validated range starts after chrono's first day");
        let mut now: BTreeMap<Branch, Sums> = BTreeMap::new();
        let mut before = Sums::default();
        for (id, lines) in self.books.iter() {
            let (Some(book), Some(fund)) = (lines.get(&line), self.directory.fund(id)) else {
                continue;
            };
            debug_assert_eq!(fund.programme(), Programme::Insurance);
            let Some(place) = branch(state, unit, fund.unit()) else {
                continue;
            };
            now.entry(place).or_default().add(&Sums {
                day: book.between(range),
                reserve_at_start: book.reserve_at(start),
                reserve_at_end: book.reserve_at(range.to()),
            });
            let before_start = last_year
                .from()
                .pred_opt()
                .expect("a validated range starts after chrono's first day");
            before.add(&Sums {
                day: book.between(last_year),
                reserve_at_start: book.reserve_at(before_start),
                reserve_at_end: book.reserve_at(last_year.to()),
            });
        }
        let mut total = Sums::default();
        for sums in now.values() {
            total.add(sums);
        }
        let figures = total.figures();
        let last_year_figures = before.figures();
        let children = children(state, unit)
            .into_iter()
            .map(|child| UnitInsurance {
                figures: now
                    .get(&Branch::Child(child.clone()))
                    .copied()
                    .unwrap_or_default()
                    .figures(),
                unit: child,
            })
            .collect();
        Ok(InsuranceReport {
            unit: unit.clone(),
            line,
            range,
            last_year,
            premium_growth: LabelledRate {
                value: rates::year_on_year_growth(
                    figures.premium_tax_exclusive,
                    last_year_figures.premium_tax_exclusive,
                ),
                formula: PREMIUM_GROWTH_FORMULA,
            },
            own: now.get(&Branch::Own).copied().unwrap_or_default().figures(),
            figures,
            last_year_figures,
            children,
        })
    }
}
