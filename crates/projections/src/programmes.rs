//! Programme reports: for a unit's subtree and a period, per programme the money appropriated, received and paid out, the distinct beneficiaries helped, rates and year-on-year growth, with a row per child unit for drill-down.
//!
//! Kept per fund: the changes of its figures summed per effective date, and one small
//! record per payment to a beneficiary (loan, grant, housing or bursary instalment,
//! condolence payment, claim), keyed by (effective date, position). Beneficiaries are
//! interned with their kind and categories. A report walks the funds of the subtree and
//! the payments of the period; nothing is precomputed per period, so any range works.

use std::collections::BTreeMap;

use ledger_domain::{
    rates, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Event, FundId, FundingTier, Money,
    Percent, Programme, Reversible, UnitCode,
};
use serde::{Deserialize, Serialize};

use crate::chunked::Chunked;
use crate::directory::{branch, check_unit, children, Branch, Directory};
use crate::figures::{changes_of, money, Daily, FundFen};
use crate::intern::{Interner, Keyed};
use crate::query::{DateRange, QueryError};
use crate::time::Day;
use crate::{advance, EventRecord, Projection};

/// Kind and categories of a beneficiary, compact: categories as a bit set in the order
/// of `BeneficiaryCategory`'s variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Profile {
    kind: BeneficiaryKind,
    categories: u8,
}

fn category_bit(category: BeneficiaryCategory) -> u8 {
    match category {
        BeneficiaryCategory::PoorHousehold => 1,
        BeneficiaryCategory::SpecialFamily => 1 << 1,
        BeneficiaryCategory::OnlyChild => 1 << 2,
        BeneficiaryCategory::TwoDaughters => 1 << 3,
        BeneficiaryCategory::Migrant => 1 << 4,
        BeneficiaryCategory::Student => 1 << 5,
        BeneficiaryCategory::Mother => 1 << 6,
    }
}

/// A payment to a beneficiary (negative when it records a reversal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Help {
    position: u64,
    day: Day,
    beneficiary: u32,
    fen: i64,
    /// A loan to a borrower recorded as a migrant at the time of the loan.
    migrant: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct ProgrammeBook {
    daily: Daily,
    /// In position order: appending is all a rebuild does; a report filters by date.
    helps: Chunked<Help>,
}

/// Programme figures for any subtree and period (projection `programme_reports`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProgrammeReports {
    next_position: u64,
    directory: Directory,
    beneficiaries: Interner<BeneficiaryId>,
    /// By interned beneficiary index.
    profiles: Vec<Profile>,
    funds: Keyed<FundId, ProgrammeBook>,
}

/// Distinct beneficiaries helped in a period: those whose payments in the period add
/// up to more than zero (a payment reversed within the same period does not count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Helped {
    /// All distinct beneficiaries.
    pub beneficiaries: u64,
    /// Registered as households (户).
    pub households: u64,
    /// Registered as persons.
    pub persons: u64,
    /// With the `Student` category.
    pub students: u64,
    /// With the `Mother` category (计生母亲).
    pub mothers: u64,
    /// With the `Migrant` category, or lent to as a migrant (流动人口).
    pub migrants: u64,
}

/// One tier's part of a programme row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierRow {
    /// The funding tier.
    pub tier: FundingTier,
    /// Committed in the period.
    pub committed: Money,
    /// Received in the period.
    pub received: Money,
    /// Paid out of the tier in the period.
    pub disbursed: Money,
    /// received ÷ committed.
    pub arrival_rate: Option<Percent>,
    /// This tier's disbursed ÷ the programme's disbursed (each tier's share).
    pub share_of_disbursed: Option<Percent>,
}

/// One programme's figures for a subtree and period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgrammeRow {
    /// The programme.
    pub programme: Programme,
    /// Funds of the programme held within the subtree.
    pub funds: u64,
    /// Appropriated (committed) in the period.
    pub committed: Money,
    /// Received in the period.
    pub received: Money,
    /// Paid out in the period (loans, grants, instalments, condolence, premiums, claims by the fund).
    pub disbursed: Money,
    /// Figures per tier, for tiers with any figure.
    pub by_tier: Vec<TierRow>,
    /// Paid to beneficiaries in the period: loans, grants, instalments, condolence and claims (insurer-paid included).
    pub paid_to_beneficiaries: Money,
    /// Distinct beneficiaries helped.
    pub helped: Helped,
    /// paid_to_beneficiaries ÷ helped.beneficiaries, rounded half away from zero to the fen.
    pub average_per_beneficiary: Option<Money>,
    /// Budget execution rate = disbursed ÷ committed (`rates::budget_execution_rate`).
    pub budget_execution_rate: Option<Percent>,
    /// Tier arrival rate over all tiers = received ÷ committed (`rates::arrival_rate`).
    pub arrival_rate: Option<Percent>,
    /// Disbursed in the same period a year earlier.
    pub disbursed_last_year: Money,
    /// Distinct beneficiaries helped in the same period a year earlier.
    pub helped_last_year: Helped,
    /// (disbursed − last year) ÷ last year.
    pub disbursed_growth: Option<Percent>,
    /// (beneficiaries − last year) ÷ last year.
    pub beneficiaries_growth: Option<Percent>,
}

/// The rows of one child unit's subtree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitProgrammes {
    /// The child unit.
    pub unit: UnitCode,
    /// One row per programme with a fund in the child's subtree.
    pub rows: Vec<ProgrammeRow>,
    /// Distinct beneficiaries helped in the period by the child's subtree, all
    /// programmes together: someone paid by two programmes counts once (the rows'
    /// counts need not add up to this).
    pub helped: Helped,
}

/// A programme report: the whole subtree, the root's own funds, and each child's subtree.
/// Money figures of `own` and `children` add up to `rows`; beneficiary counts need not,
/// since one beneficiary can be helped by funds of several units.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgrammeReport {
    /// The root of the subtree.
    pub unit: UnitCode,
    /// The period.
    pub range: DateRange,
    /// The same period a year earlier.
    pub last_year: DateRange,
    /// The whole subtree, one row per programme with a fund in it.
    pub rows: Vec<ProgrammeRow>,
    /// Funds held by the root unit itself.
    pub own: Vec<ProgrammeRow>,
    /// Each direct child's subtree, in unit-code order.
    pub children: Vec<UnitProgrammes>,
    /// Distinct beneficiaries helped in the period by the whole subtree, all programmes
    /// together: someone paid by two programmes counts once.
    pub helped: Helped,
}

impl Projection for ProgrammeReports {
    const NAME: &'static str = "programme_reports";

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.next_position, record, Self::NAME);
        let r = &record.recorded;
        self.directory.apply(r);
        match &r.event {
            Event::BeneficiaryRegistered {
                beneficiary,
                kind,
                categories,
                ..
            } => {
                let i = self.beneficiaries.intern(beneficiary);
                let profile = Profile {
                    kind: *kind,
                    categories: categories
                        .iter()
                        .map(|c| category_bit(*c))
                        .fold(0, |a, b| a | b),
                };
                if i as usize == self.profiles.len() {
                    self.profiles.push(profile);
                } else {
                    self.profiles[i as usize] = profile;
                }
                return;
            }
            Event::FundOpened { fund, .. } => {
                self.funds
                    .entry_symbol(fund, record.fund_symbol(fund.as_str()));
                return;
            }
            _ => {}
        }
        let Some(fund) = r.event.fund() else {
            return;
        };
        let changes = changes_of(&r.event);
        let help = self.help_of(record);
        if changes.is_empty() && help.is_none() {
            return;
        }
        let book = self
            .funds
            .entry_symbol(fund, record.fund_symbol(fund.as_str()));
        book.daily.add(r.effective_date, changes.as_slice());
        if let Some(help) = help {
            book.helps.push(help);
        }
    }

    fn next_position(&self) -> u64 {
        self.next_position
    }
}

impl ProgrammeReports {
    fn beneficiary(&mut self, id: &BeneficiaryId, record: &EventRecord) -> u32 {
        self.beneficiaries
            .find_symbol(id, record.beneficiary_symbol(id.as_str()))
            .unwrap_or_else(|| panic!("a payment names beneficiary {id}, who was never registered"))
    }

    /// The payment to a beneficiary this event records, or undoes.
    fn help_of(&mut self, record: &EventRecord) -> Option<Help> {
        let r = &record.recorded;
        let day = Day::from(r.effective_date);
        let (beneficiary, amount, migrant) = match &r.event {
            Event::LoanDisbursed(l) => (&l.beneficiary, l.principal, l.migrant),
            Event::GrantPaid(g) => (&g.beneficiary, g.amount, false),
            Event::HousingInstalmentPaid {
                beneficiary,
                amount,
                ..
            } => (beneficiary, *amount, false),
            Event::BursaryInstalmentPaid {
                student, amount, ..
            } => (student, *amount, false),
            Event::CondolencePaid {
                beneficiary,
                amount,
                ..
            } => (beneficiary, *amount, false),
            Event::ClaimPaid(c) => (&c.beneficiary, c.amount, false),
            Event::EventReversed {
                position, reversed, ..
            } => {
                return self.undone_help(*position, reversed).map(|undone| Help {
                    position: r.position,
                    day,
                    ..undone
                })
            }
            _ => return None,
        };
        Some(Help {
            position: r.position,
            day,
            beneficiary: self.beneficiary(beneficiary, record),
            fen: amount.fen(),
            migrant,
        })
    }

    /// A reversal of a payment to a beneficiary undoes it (the caller dates the undoing
    /// with the reversal's own position and date).
    fn undone_help(&self, original: u64, reversed: &Reversible) -> Option<Help> {
        let helps = &self.funds.get(reversed.fund())?.helps;
        let i = helps.binary_search_by_key(&original, |h| h.position).ok()?;
        let undone = helps.get(i)?;
        Some(Help {
            fen: -undone.fen,
            ..*undone
        })
    }

    /// The report for `unit`'s subtree over `range`, with the same period a year earlier
    /// for growth. Funds belong to the unit that holds them (as in the domain's roll-ups).
    pub fn report(&self, unit: &UnitCode, range: DateRange) -> Result<ProgrammeReport, QueryError> {
        let state = self.directory.state();
        check_unit(state, unit)?;
        let last_year = range.a_year_earlier();
        let mut accumulators: BTreeMap<(Branch, Programme), Accumulator> = BTreeMap::new();
        for (id, book) in self.funds.iter() {
            let Some(fund) = self.directory.fund(id) else {
                continue;
            };
            let Some(place) = branch(state, unit, fund.unit()) else {
                continue;
            };
            let acc = accumulators.entry((place, fund.programme())).or_default();
            acc.funds += 1;
            acc.now
                .money
                .add_fund(&book.daily.between(range.from(), range.to()));
            acc.before
                .money
                .add_fund(&book.daily.between(last_year.from(), last_year.to()));
            let (from, to) = (Day::from(range.from()), Day::from(range.to()));
            let (before_from, before_to) = (Day::from(last_year.from()), Day::from(last_year.to()));
            for h in book.helps.iter() {
                // Both tests: a period longer than a year overlaps its year-earlier twin.
                if from <= h.day && h.day <= to {
                    acc.now.helps.push(*h);
                }
                if before_from <= h.day && h.day <= before_to {
                    acc.before.helps.push(*h);
                }
            }
        }
        let mut rows: BTreeMap<Programme, Accumulator> = BTreeMap::new();
        let mut own = Vec::new();
        let mut by_child: BTreeMap<UnitCode, (Vec<ProgrammeRow>, Vec<Help>)> = BTreeMap::new();
        let mut all_helps = Vec::new();
        for ((place, programme), acc) in accumulators {
            let total = rows.entry(programme).or_default();
            total.funds += acc.funds;
            total.now.merge(&acc.now);
            total.before.merge(&acc.before);
            all_helps.extend_from_slice(&acc.now.helps);
            match place {
                Branch::Own => own.push(self.row(programme, acc)),
                Branch::Child(child) => {
                    let (rows, helps) = by_child.entry(child).or_default();
                    helps.extend_from_slice(&acc.now.helps);
                    rows.push(self.row(programme, acc));
                }
            }
        }
        let children = children(state, unit)
            .into_iter()
            .map(|child| {
                let (rows, mut helps) = by_child.remove(&child).unwrap_or_default();
                UnitProgrammes {
                    rows,
                    helped: self.distinct(&mut helps).1,
                    unit: child,
                }
            })
            .collect();
        Ok(ProgrammeReport {
            unit: unit.clone(),
            range,
            last_year,
            rows: rows
                .into_iter()
                .map(|(programme, acc)| self.row(programme, acc))
                .collect(),
            own,
            children,
            helped: self.distinct(&mut all_helps).1,
        })
    }

    fn row(&self, programme: Programme, mut acc: Accumulator) -> ProgrammeRow {
        let figures = acc.now.money.figures();
        let (paid, helped) = self.distinct(&mut acc.now.helps);
        let (_, helped_last_year) = self.distinct(&mut acc.before.helps);
        let disbursed_last_year = acc.before.money.figures().disbursed;
        let by_tier = FundingTier::ALL
            .iter()
            .filter_map(|&tier| {
                let t = acc.now.money.tier(tier);
                let any = !(t.committed.is_zero() && t.received.is_zero() && t.disbursed.is_zero());
                any.then(|| TierRow {
                    tier,
                    committed: t.committed,
                    received: t.received,
                    disbursed: t.disbursed,
                    arrival_rate: t.arrival_rate(),
                    share_of_disbursed: rates::percent_of(t.disbursed, figures.disbursed),
                })
            })
            .collect();
        ProgrammeRow {
            programme,
            funds: acc.funds,
            committed: figures.committed,
            received: figures.received,
            disbursed: figures.disbursed,
            by_tier,
            paid_to_beneficiaries: paid,
            helped,
            average_per_beneficiary: average(paid, helped.beneficiaries),
            budget_execution_rate: figures.budget_execution_rate(),
            arrival_rate: rates::arrival_rate(figures.received, figures.committed),
            disbursed_last_year,
            helped_last_year,
            disbursed_growth: rates::year_on_year_growth(figures.disbursed, disbursed_last_year),
            beneficiaries_growth: rates::year_on_year_growth_of_counts(
                helped.beneficiaries,
                helped_last_year.beneficiaries,
            ),
        }
    }

    /// The total paid and the distinct beneficiaries whose payments add up to more than zero.
    fn distinct(&self, helps: &mut [Help]) -> (Money, Helped) {
        helps.sort_unstable_by_key(|h| h.beneficiary);
        let mut helped = Helped::default();
        let mut paid = 0i64;
        for group in helps.chunk_by(|a, b| a.beneficiary == b.beneficiary) {
            let net: i64 = group.iter().map(|h| h.fen).sum();
            paid += net;
            if net <= 0 {
                continue;
            }
            let profile = self.profiles[group[0].beneficiary as usize];
            let has = |c| profile.categories & category_bit(c) != 0;
            helped.beneficiaries += 1;
            match profile.kind {
                BeneficiaryKind::Household => helped.households += 1,
                BeneficiaryKind::Person => helped.persons += 1,
            }
            helped.students += u64::from(has(BeneficiaryCategory::Student));
            helped.mothers += u64::from(has(BeneficiaryCategory::Mother));
            let migrant =
                has(BeneficiaryCategory::Migrant) || group.iter().any(|h| h.migrant && h.fen > 0);
            helped.migrants += u64::from(migrant);
        }
        (money(paid), helped)
    }
}

/// `total ÷ count`, rounded half away from zero to the fen; `None` for no one.
fn average(total: Money, count: u64) -> Option<Money> {
    if count == 0 {
        return None;
    }
    let n = total.fen_i128();
    let d = i128::from(count);
    let q = (2 * n.abs() + d) / (2 * d);
    let q = if n < 0 { -q } else { q };
    Some(money(
        i64::try_from(q).expect("an average is below the total"),
    ))
}

#[derive(Debug, Default)]
struct Side {
    money: FundFen,
    helps: Vec<Help>,
}

impl Side {
    fn merge(&mut self, other: &Side) {
        self.money.add_fund(&other.money);
        self.helps.extend_from_slice(&other.helps);
    }
}

#[derive(Debug, Default)]
struct Accumulator {
    funds: u64,
    now: Side,
    before: Side,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_half_away_from_zero_to_the_fen() {
        assert_eq!(
            average(Money::from_fen(203_160_000), 642),
            Some(Money::from_fen(316_449))
        );
        assert_eq!(average(Money::from_fen(5), 2), Some(Money::from_fen(3)));
        assert_eq!(average(Money::from_fen(-5), 2), Some(Money::from_fen(-3)));
        assert_eq!(average(Money::from_fen(7), 0), None);
    }

    #[test]
    fn every_category_has_its_own_bit() {
        use BeneficiaryCategory::*;
        let all = [
            PoorHousehold,
            SpecialFamily,
            OnlyChild,
            TwoDaughters,
            Migrant,
            Student,
            Mother,
        ];
        let bits: u8 = all.iter().map(|c| category_bit(*c)).fold(0, |a, b| a | b);
        assert_eq!(bits.count_ones() as usize, all.len());
    }
}
