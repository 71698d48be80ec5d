//! Loan reports: for a lending fund or a unit's subtree, as of a date, the principal lent, repaid, outstanding and written off, the repayment rate, overdue principal, PAR30 and revolving rounds.
//!
//! The schedule arithmetic is the domain's: this projection keeps a private domain
//! `State` fed with the unit events and every event of the lending funds (Happiness
//! Project and revolving funds), so that each loan is the domain's `Loan` and its
//! `principal_due_by`, `repaid_on_time_by`, `overdue_principal` and `days_past_due`
//! answer the as-of questions. Beside it, per fund, the figures' changes summed per
//! effective date, and per loan the changes of its outstanding principal by date, so
//! that the principal figures are exact as of any date.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ledger_domain::state::{Loan, LoanStatus};
use ledger_domain::{
    evolve, rates, BeneficiaryId, Event, FundId, LoanId, Money, Percent, Programme, Reversible,
    State, UnitCode,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::directory::{branch, check_unit};
use crate::figures::{changes_of, money, Daily, FundFen};
use crate::intern::Keyed;
use crate::query::QueryError;
use crate::time::Day;
use crate::{advance, EventRecord, Projection};

/// A loan is at risk (PAR30) when an instalment is more than this many days past due.
pub const PAR_DAYS_PAST_DUE: i64 = 30;

/// Changes of one loan's outstanding principal, by effective date, in position order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct LoanHistory {
    changes: Vec<(Day, i64)>,
}

impl LoanHistory {
    fn outstanding_on(&self, date: NaiveDate) -> i64 {
        let day = Day::from(date);
        self.changes
            .iter()
            .filter(|(d, _)| *d <= day)
            .map(|(_, fen)| fen)
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct LoanBook {
    daily: Daily,
    loans: Keyed<LoanId, LoanHistory>,
}

/// Lending figures of every lending fund (projection `loan_reports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanReports {
    next_position: u64,
    /// Units, lending funds and everything that happened to them. Lean: this state
    /// never decides, so it keeps no reversal records.
    state: State,
    /// One book per lending fund, opened with the fund.
    books: Keyed<FundId, LoanBook>,
    /// Funds that do not lend, so that a loan report on one says so.
    other_funds: BTreeMap<FundId, Programme>,
}

impl Default for LoanReports {
    fn default() -> Self {
        LoanReports {
            next_position: 0,
            state: State::lean(),
            books: Keyed::default(),
            other_funds: BTreeMap::new(),
        }
    }
}

/// Lending figures as of a date.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoanReport {
    /// The date the figures are as of (end of day, by effective date).
    pub as_of: NaiveDate,
    /// Lending funds covered.
    pub funds: u64,
    /// Loans disbursed on or before the date and not reversed.
    pub loans: u64,
    /// Distinct borrowers of those loans.
    pub borrowers: u64,
    /// Capital received by the funds (all tiers), the rounds' denominator.
    pub capital_received: Money,
    /// Principal lent (net of reversed disbursements).
    pub disbursed: Money,
    /// Principal repaid.
    pub repaid: Money,
    /// Interest received.
    pub interest_received: Money,
    /// Principal outstanding.
    pub outstanding: Money,
    /// Principal written off.
    pub written_off: Money,
    /// Principal due on or before the date (`Loan::principal_due_by`).
    pub principal_due: Money,
    /// Principal repaid on time for instalments due by the date (`Loan::repaid_on_time_by`).
    pub repaid_on_time: Money,
    /// Repayment rate = principal repaid on time ÷ principal due so far (`rates::repayment_rate`).
    pub repayment_rate: Option<Percent>,
    /// Overdue principal (`Loan::overdue_principal`).
    pub overdue_principal: Money,
    /// Loans with an instalment more than `PAR_DAYS_PAST_DUE` days past due and principal outstanding.
    pub loans_at_risk: u64,
    /// Their outstanding principal.
    pub outstanding_at_risk: Money,
    /// PAR30 = outstanding principal at risk ÷ all outstanding principal (`rates::portfolio_at_risk`).
    pub par30: Option<Percent>,
    /// Revolving rounds (轮次) = principal lent ÷ capital received, truncated (`rates::revolving_rounds`).
    #[serde(with = "rust_decimal::serde::str_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]+)?$"))]
    pub revolving_rounds: Option<Decimal>,
}

#[derive(Debug, Default)]
struct Totals {
    funds: u64,
    money: FundFen,
    loans: u64,
    borrowers: BTreeSet<BeneficiaryId>,
    principal_due: Money,
    repaid_on_time: Money,
    overdue: Money,
    loans_at_risk: u64,
    at_risk: i64,
    outstanding_by_loan: i64,
}

/// The loan and the change of its outstanding principal an event makes, if any.
fn loan_change(event: &Event) -> Option<(&LoanId, i64)> {
    let (record, sign) = match event {
        Event::LoanDisbursed(l) => return Some((&l.loan, l.principal.fen())),
        Event::LoanRepaid {
            loan, principal, ..
        } => return Some((loan, -principal.fen())),
        Event::LoanWrittenOff { loan, amount, .. } => return Some((loan, -amount.fen())),
        Event::EventReversed { reversed, .. } => (reversed, -1),
        _ => return None,
    };
    match record {
        Reversible::Loan {
            loan, principal, ..
        } => Some((loan, sign * principal.fen())),
        Reversible::Repayment {
            loan, principal, ..
        } => Some((loan, -sign * principal.fen())),
        Reversible::WriteOff { loan, amount, .. } => Some((loan, -sign * amount.fen())),
        _ => None,
    }
}

/// Payments out of a fund that no loan report figure counts (grants, condolences,
/// housing and bursary instalments), by event type name.
const PAYMENTS_NOT_COUNTED: [&str; 4] = [
    "GrantPaid",
    "CondolencePaid",
    "HousingInstalmentPaid",
    "BursaryInstalmentPaid",
];

/// Whether a lending fund's event matters to its loan reports: everything but the
/// payments no figure counts, and their reversals. A Happiness Project fund pays
/// mostly grants, so skipping them is most of this projection's work saved. Only
/// outflows (and the reversals that undo them) are skipped, so the private state's cash
/// stays at or above the fund's and `evolve`'s never-negative check still holds; its
/// fund balances are not the fund's (the figures come from the daily books).
fn concerns_loans(event: &Event) -> bool {
    let name = match event {
        Event::EventReversed { reversed, .. } => reversed.event_type(),
        event => event.event_type(),
    };
    !PAYMENTS_NOT_COUNTED.contains(&name)
}

impl Projection for LoanReports {
    const NAME: &'static str = "loan_reports";
    const LAYOUT_VERSION: u32 = 2;

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.next_position, record, Self::NAME);
        let r = &record.recorded;
        let lending = match &r.event {
            Event::UnitRegistered { .. } => {
                evolve(&mut self.state, r);
                return;
            }
            Event::FundOpened {
                fund, programme, ..
            } => {
                if programme.lends() {
                    self.books.entry(fund);
                } else {
                    self.other_funds.insert(fund.clone(), *programme);
                }
                programme.lends()
            }
            event => event.fund().is_some_and(|f| self.books.get(f).is_some()),
        };
        if !lending || !concerns_loans(&r.event) {
            return;
        }
        // The domain's own fold keeps every loan's schedule, status and repayments.
        evolve(&mut self.state, r);
        let fund = r
            .event
            .fund()
            .expect("a lending fund's event names its fund");
        let book = self.books.entry(fund);
        book.daily
            .add(r.effective_date, changes_of(&r.event).as_slice());
        if let Some((loan, fen)) = loan_change(&r.event) {
            book.loans
                .entry(loan)
                .changes
                .push((Day::from(r.effective_date), fen));
        }
    }

    fn next_position(&self) -> u64 {
        self.next_position
    }
}

impl LoanReports {
    /// The report for one lending fund as of the end of `as_of`.
    pub fn fund_report(&self, fund: &FundId, as_of: NaiveDate) -> Result<LoanReport, QueryError> {
        if self.state.fund(fund).is_none() {
            return Err(match self.other_funds.get(fund) {
                Some(programme) => QueryError::NotALendingFund {
                    fund: fund.clone(),
                    programme: *programme,
                },
                None => QueryError::UnknownFund { fund: fund.clone() },
            });
        }
        let mut totals = Totals::default();
        let book = self
            .books
            .get(fund)
            .expect("every lending fund's book is opened with the fund");
        self.add_fund(&mut totals, book, as_of);
        Ok(report(totals, as_of))
    }

    /// The report for every lending fund held within `unit`'s subtree, as of the end of `as_of`.
    pub fn unit_report(&self, unit: &UnitCode, as_of: NaiveDate) -> Result<LoanReport, QueryError> {
        check_unit(&self.state, unit)?;
        let mut totals = Totals::default();
        for (id, f) in self.state.funds() {
            if branch(&self.state, unit, f.unit()).is_none() {
                continue;
            }
            let book = self
                .books
                .get(id)
                .expect("every lending fund's book is opened with the fund");
            self.add_fund(&mut totals, book, as_of);
        }
        Ok(report(totals, as_of))
    }

    /// Whether the fund is known and lends, for callers that route queries.
    pub fn is_lending_fund(&self, fund: &FundId) -> bool {
        self.state.fund(fund).is_some()
    }

    fn add_fund(&self, totals: &mut Totals, book: &LoanBook, as_of: NaiveDate) {
        totals.funds += 1;
        totals.money.add_fund(&book.daily.through(as_of));
        for (id, history) in book.loans.iter() {
            let loan: &Loan = self
                .state
                .loan(id)
                .expect("every loan with a history was disbursed in the state");
            // Counted for every loan: the domain accepts a repayment or write-off dated
            // before its loan, which leaves the outstanding negative in between.
            let outstanding = history.outstanding_on(as_of);
            totals.outstanding_by_loan += outstanding;
            if loan.disbursed_on() > as_of {
                continue;
            }
            // As in `State::repayment_inputs` and `State::overdue_principal`.
            if loan.status() != LoanStatus::Reversed {
                totals.loans += 1;
                totals.borrowers.insert(loan.beneficiary().clone());
                totals.principal_due += loan.principal_due_by(as_of);
                totals.repaid_on_time += loan.repaid_on_time_by(as_of);
            }
            totals.overdue += loan.overdue_principal(as_of);
            // As `Loan::at_risk_30`, but with the principal outstanding on the date
            // rather than today, so that a loan repaid since still counts on the date.
            if outstanding > 0 && loan.days_past_due(as_of) > PAR_DAYS_PAST_DUE {
                totals.loans_at_risk += 1;
                totals.at_risk += outstanding;
            }
        }
    }
}

fn report(totals: Totals, as_of: NaiveDate) -> LoanReport {
    let f = totals.money.figures();
    debug_assert_eq!(
        money(totals.outstanding_by_loan),
        f.loans_outstanding,
        "the loans' outstanding principal adds up to the funds'"
    );
    LoanReport {
        as_of,
        funds: totals.funds,
        loans: totals.loans,
        borrowers: totals.borrowers.len() as u64,
        capital_received: f.received,
        disbursed: f.lent,
        repaid: f.repaid,
        interest_received: f.interest_income,
        outstanding: f.loans_outstanding,
        written_off: f.written_off,
        principal_due: totals.principal_due,
        repaid_on_time: totals.repaid_on_time,
        repayment_rate: rates::repayment_rate(totals.repaid_on_time, totals.principal_due),
        overdue_principal: totals.overdue,
        loans_at_risk: totals.loans_at_risk,
        outstanding_at_risk: money(totals.at_risk),
        par30: rates::portfolio_at_risk(money(totals.at_risk), f.loans_outstanding),
        revolving_rounds: rates::revolving_rounds(f.lent, f.received),
    }
}
