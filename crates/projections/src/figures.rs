//! Fund figures: how each event changes a fund's balance components (in integer fen), daily sums of those changes, and the public views built from them.
//!
//! The changes mirror the domain's `evolve` exactly (docs/DOMAIN.md, "Postings by
//! event type"): the property tests compare the result with `State::fund_balance` and
//! with the sums of the events' postings. Figures are kept as `i64` fen rather than
//! `Money` (a 16-byte decimal) because projections hold one record per movement and add
//! millions of them; the domain itself refuses to store money beyond `i64` fen, so no
//! figure the log can hold overflows. Overflow panics, as in the domain.

use std::collections::BTreeMap;

use arrayvec::ArrayVec;
use chrono::NaiveDate;
use ledger_domain::{
    rates, Amount, ClaimPayer, Event, FundingTier, InsuranceModel, Money, Percent, Reversible,
    TierSplit,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One figure of a tier's sub-ledger, or of the fund as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) enum Component {
    Committed,
    Received,
    Available,
    Reserved,
    Disbursed,
    Lent,
    Repaid,
    LoansOutstanding,
    WrittenOff,
    /// Fund-wide; recorded under the `Interest` tier.
    InterestIncome,
    /// Fund-wide; recorded under the `HouseholdContribution` tier.
    HouseholdContributions,
}

impl Component {
    /// Every component, in declaration order (the index used when packing).
    pub(crate) const ALL: [Component; 11] = [
        Component::Committed,
        Component::Received,
        Component::Available,
        Component::Reserved,
        Component::Disbursed,
        Component::Lent,
        Component::Repaid,
        Component::LoansOutstanding,
        Component::WrittenOff,
        Component::InterestIncome,
        Component::HouseholdContributions,
    ];

    pub(crate) fn index(self) -> u8 {
        let i = Component::ALL
            .iter()
            .position(|c| *c == self)
            .expect("every component is listed");
        u8::try_from(i).expect("few components")
    }
}

/// A signed change of one figure of one tier, in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Delta {
    pub(crate) tier: FundingTier,
    pub(crate) component: Component,
    pub(crate) fen: i64,
}

fn checked(a: i64, b: i64) -> i64 {
    a.checked_add(b)
        .expect("a fund figure beyond i64 fen is beyond any ledger")
}

/// Adds a change to a short list of changes, merging with an existing entry for the
/// same tier and figure and dropping entries that come back to zero.
pub(crate) fn merge(into: &mut Vec<Delta>, delta: Delta) {
    if delta.fen == 0 {
        return;
    }
    match into
        .iter()
        .position(|d| d.tier == delta.tier && d.component == delta.component)
    {
        Some(i) => {
            into[i].fen = checked(into[i].fen, delta.fen);
            if into[i].fen == 0 {
                into.swap_remove(i);
            }
        }
        None => into.push(delta),
    }
}

/// The most figures one event can change: a split over all nine tiers moves two
/// figures of each tier.
const CHANGES_MAX: usize = 2 * FundingTier::ALL.len();

/// The changes one event makes, held inline: computing them allocates nothing, and
/// nothing is written for the places left unused (an `ArrayVec`), which matters when
/// the engine rebuilds millions of events per second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    items: ArrayVec<Delta, CHANGES_MAX>,
    /// +1 for the event itself, -1 when a reversal undoes it.
    sign: i64,
}

impl Changes {
    fn new(sign: i64) -> Changes {
        Changes {
            items: ArrayVec::new(),
            sign,
        }
    }

    pub(crate) fn as_slice(&self) -> &[Delta] {
        &self.items
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn add(&mut self, tier: FundingTier, component: Component, fen: i64) {
        if fen == 0 {
            return;
        }
        let fen = fen * self.sign;
        match self
            .items
            .iter()
            .position(|d| d.tier == tier && d.component == component)
        {
            Some(i) => {
                let live = &mut self.items[i];
                live.fen = checked(live.fen, fen);
                if live.fen == 0 {
                    self.items.swap_remove(i);
                }
            }
            None => {
                assert!(
                    !self.items.is_full(),
                    "an event changes at most {CHANGES_MAX} figures"
                );
                self.items.push(Delta {
                    tier,
                    component,
                    fen,
                });
            }
        }
    }

    fn commitment(&mut self, tier: FundingTier, amount: Amount) {
        self.add(tier, Component::Committed, amount.fen());
    }

    fn receipt(&mut self, tier: FundingTier, amount: Amount) {
        self.add(tier, Component::Received, amount.fen());
        self.add(tier, Component::Available, amount.fen());
    }

    fn loan(&mut self, tier: FundingTier, principal: Amount) {
        let p = principal.fen();
        self.add(tier, Component::Available, -p);
        self.add(tier, Component::Disbursed, p);
        self.add(tier, Component::Lent, p);
        self.add(tier, Component::LoansOutstanding, p);
    }

    fn repayment(&mut self, tier: FundingTier, principal: Amount, interest: Amount) {
        let p = principal.fen();
        self.add(tier, Component::Available, p);
        self.add(tier, Component::Repaid, p);
        self.add(tier, Component::LoansOutstanding, -p);
        // Interest is new money: it lands in the fund's interest tier.
        self.add(FundingTier::Interest, Component::Available, interest.fen());
        self.add(
            FundingTier::Interest,
            Component::InterestIncome,
            interest.fen(),
        );
    }

    fn write_off(&mut self, tier: FundingTier, amount: Amount) {
        self.add(tier, Component::LoansOutstanding, -amount.fen());
        self.add(tier, Component::WrittenOff, amount.fen());
    }

    fn pay_out(&mut self, tier: FundingTier, amount: Amount) {
        self.add(tier, Component::Available, -amount.fen());
        self.add(tier, Component::Disbursed, amount.fen());
    }

    fn pay_out_split(&mut self, shares: &TierSplit) {
        for share in shares.shares() {
            self.pay_out(share.tier, share.amount);
        }
    }

    fn premium(&mut self, model: InsuranceModel, shares: &TierSplit) {
        for share in shares.shares() {
            let fen = share.amount.fen();
            let household = share.tier == FundingTier::HouseholdContribution;
            match (model, household) {
                // The households' money passes straight to the insurer.
                (InsuranceModel::InsurerUnderwritten, true) => {
                    self.add(share.tier, Component::HouseholdContributions, fen);
                }
                (InsuranceModel::InsurerUnderwritten, false) => {
                    self.pay_out(share.tier, share.amount);
                }
                // A self-insured scheme keeps the households' money.
                (InsuranceModel::SelfInsured, true) => {
                    self.add(share.tier, Component::HouseholdContributions, fen);
                    self.add(share.tier, Component::Available, fen);
                }
                // A tier's own share stays in the fund's cash: nothing moves.
                (InsuranceModel::SelfInsured, false) => {}
            }
        }
    }

    fn reserve(&mut self, reserved: &TierSplit, release: bool) {
        let direction = if release { -1 } else { 1 };
        for share in reserved.shares() {
            let fen = share.amount.fen() * direction;
            self.add(share.tier, Component::Available, -fen);
            self.add(share.tier, Component::Reserved, fen);
        }
    }

    /// The same changes as the domain's `State::apply_money` for one record.
    fn record(&mut self, record: &Reversible) {
        match record {
            Reversible::Commitment { tier, amount, .. } => self.commitment(*tier, *amount),
            Reversible::Receipt { tier, amount, .. } => self.receipt(*tier, *amount),
            Reversible::Loan {
                tier, principal, ..
            } => self.loan(*tier, *principal),
            Reversible::Repayment {
                tier,
                principal,
                interest,
                ..
            } => self.repayment(*tier, *principal, *interest),
            Reversible::WriteOff { tier, amount, .. } => self.write_off(*tier, *amount),
            Reversible::Payment { shares, .. } => self.pay_out_split(shares),
            Reversible::Premium { model, shares, .. } => self.premium(*model, shares),
            // Memo accounts and commitments: the fund's figures do not move.
            Reversible::InsurerClaim { .. }
            | Reversible::HousingAward { .. }
            | Reversible::BursaryAward { .. } => {}
        }
    }
}

/// The changes an event makes to its fund's figures (empty when none move).
///
/// Money events are read directly rather than through `Event::reversible`, which
/// would clone the tier split; in debug builds both readings are compared.
pub(crate) fn changes_of(event: &Event) -> Changes {
    let mut changes = Changes::new(1);
    match event {
        Event::AppropriationCommitted { tier, amount, .. } => changes.commitment(*tier, *amount),
        Event::AppropriationReceived { tier, amount, .. } => changes.receipt(*tier, *amount),
        Event::LoanDisbursed(l) => changes.loan(l.tier, l.principal),
        Event::LoanRepaid {
            tier,
            principal,
            interest,
            ..
        } => changes.repayment(*tier, *principal, *interest),
        Event::LoanWrittenOff { tier, amount, .. } => changes.write_off(*tier, *amount),
        Event::GrantPaid(g) => changes.pay_out_split(&g.shares),
        Event::HousingInstalmentPaid { shares, .. } | Event::CondolencePaid { shares, .. } => {
            changes.pay_out_split(shares)
        }
        Event::BursaryInstalmentPaid { tier, amount, .. } => changes.pay_out(*tier, *amount),
        Event::PremiumCollected { model, shares, .. } => changes.premium(*model, shares),
        Event::ClaimPaid(c) => match &c.payer {
            ClaimPayer::Insurer => {}
            ClaimPayer::Fund { shares } => changes.pay_out_split(shares),
        },
        Event::PaymentRequested { reserved, .. } => changes.reserve(reserved, false),
        Event::PaymentApproved { reserved, .. }
        | Event::PaymentRejected { reserved, .. }
        | Event::PaymentRequestExpired { reserved, .. } => changes.reserve(reserved, true),
        Event::EventReversed { reversed, .. } => {
            changes.sign = -1;
            changes.record(reversed);
        }
        Event::UnitRegistered { .. }
        | Event::FundOpened { .. }
        | Event::ApprovalThresholdSet { .. }
        | Event::BeneficiaryRegistered { .. }
        | Event::LoanRescheduled { .. }
        | Event::HousingGrantAwarded { .. }
        | Event::FollowUpVisitRecorded { .. }
        | Event::BursaryAwarded { .. }
        | Event::CampaignOpened { .. }
        | Event::ClaimsReserveEstimated { .. }
        | Event::PeriodClosed { .. }
        | Event::UserRegistered { .. }
        | Event::UserRoleChanged { .. }
        | Event::UserDisabled { .. }
        | Event::TokenIssued { .. }
        | Event::TokenRevoked { .. }
        | Event::PersonalDataAccessGranted { .. }
        | Event::PersonalDataAccessWithdrawn { .. }
        | Event::PersonalDataAccessed { .. }
        | Event::BeneficiaryRestricted { .. }
        | Event::BeneficiaryRestrictionLifted { .. }
        | Event::BeneficiaryErased { .. } => {}
    }
    #[cfg(debug_assertions)]
    if let (Some(record), false) = (
        event.reversible(),
        matches!(event, Event::EventReversed { .. }),
    ) {
        let mut via_record = Changes::new(1);
        via_record.record(&record);
        debug_assert_eq!(
            changes.as_slice(),
            via_record.as_slice(),
            "the direct reading of {} differs from its reversible record",
            event.event_type()
        );
    }
    changes
}

/// One tier's figures in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct TierFen {
    committed: i64,
    received: i64,
    available: i64,
    reserved: i64,
    disbursed: i64,
    lent: i64,
    repaid: i64,
    loans_outstanding: i64,
    written_off: i64,
}

/// A fund's figures in fen: every tier plus the two fund-wide figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct FundFen {
    tiers: [TierFen; 9],
    interest_income: i64,
    household_contributions: i64,
}

impl FundFen {
    pub(crate) fn add(&mut self, delta: &Delta) {
        let fen = delta.fen;
        let t = &mut self.tiers[delta.tier.index()];
        let slot = match delta.component {
            Component::Committed => &mut t.committed,
            Component::Received => &mut t.received,
            Component::Available => &mut t.available,
            Component::Reserved => &mut t.reserved,
            Component::Disbursed => &mut t.disbursed,
            Component::Lent => &mut t.lent,
            Component::Repaid => &mut t.repaid,
            Component::LoansOutstanding => &mut t.loans_outstanding,
            Component::WrittenOff => &mut t.written_off,
            Component::InterestIncome => &mut self.interest_income,
            Component::HouseholdContributions => &mut self.household_contributions,
        };
        *slot = checked(*slot, fen);
    }

    pub(crate) fn add_all<'a>(&mut self, deltas: impl IntoIterator<Item = &'a Delta>) {
        for d in deltas {
            self.add(d);
        }
    }

    pub(crate) fn add_fund(&mut self, other: &FundFen) {
        for (t, o) in self.tiers.iter_mut().zip(other.tiers.iter()) {
            t.committed = checked(t.committed, o.committed);
            t.received = checked(t.received, o.received);
            t.available = checked(t.available, o.available);
            t.reserved = checked(t.reserved, o.reserved);
            t.disbursed = checked(t.disbursed, o.disbursed);
            t.lent = checked(t.lent, o.lent);
            t.repaid = checked(t.repaid, o.repaid);
            t.loans_outstanding = checked(t.loans_outstanding, o.loans_outstanding);
            t.written_off = checked(t.written_off, o.written_off);
        }
        self.interest_income = checked(self.interest_income, other.interest_income);
        self.household_contributions =
            checked(self.household_contributions, other.household_contributions);
    }

    pub(crate) fn figures(&self) -> FundFigures {
        let by_tier: Vec<(FundingTier, TierFigures)> = FundingTier::ALL
            .iter()
            .map(|&tier| (tier, TierFigures::from(&self.tiers[tier.index()])))
            .filter(|(_, t)| *t != TierFigures::default())
            .collect();
        let sum =
            |field: fn(&TierFen) -> i64| money(self.tiers.iter().map(field).fold(0i64, checked));
        FundFigures {
            by_tier,
            committed: sum(|t| t.committed),
            received: sum(|t| t.received),
            disbursed: sum(|t| t.disbursed),
            lent: sum(|t| t.lent),
            repaid: sum(|t| t.repaid),
            loans_outstanding: sum(|t| t.loans_outstanding),
            reserved: sum(|t| t.reserved),
            written_off: sum(|t| t.written_off),
            available: sum(|t| t.available),
            interest_income: money(self.interest_income),
            household_contributions: money(self.household_contributions),
        }
    }

    pub(crate) fn tier(&self, tier: FundingTier) -> TierFigures {
        TierFigures::from(&self.tiers[tier.index()])
    }
}

pub(crate) fn money(fen: i64) -> Money {
    Money::from_fen(fen)
}

/// A fund's figures: what the "fund balance" query shows, field for field the domain's
/// `FundBalance`, and also the change one movement makes (a statement line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FundFigures {
    /// Tiers with any non-zero figure, in tier order (appropriated by tier is `committed`).
    pub by_tier: Vec<(FundingTier, TierFigures)>,
    /// Appropriated (committed, 下达) by all tiers.
    pub committed: Money,
    /// Received (到位) from all tiers.
    pub received: Money,
    /// Paid out: loans lent, grants, instalments, condolence, premiums to the insurer, claims paid by the fund.
    pub disbursed: Money,
    /// Loan principal lent (part of `disbursed`).
    pub lent: Money,
    /// Loan principal repaid.
    pub repaid: Money,
    /// Loan principal outstanding.
    pub loans_outstanding: Money,
    /// Reserved for payments awaiting approval.
    pub reserved: Money,
    /// Loan principal written off.
    pub written_off: Money,
    /// Available cash: not lent, paid out or reserved.
    pub available: Money,
    /// Interest received on loans.
    pub interest_income: Money,
    /// Households' own premium contributions.
    pub household_contributions: Money,
}

impl FundFigures {
    /// Budget execution rate = disbursed ÷ appropriated (`rates::budget_execution_rate`).
    pub fn budget_execution_rate(&self) -> Option<Percent> {
        rates::budget_execution_rate(self.disbursed, self.committed)
    }

    /// Revolving rounds = principal lent ÷ capital received, truncated (`rates::revolving_rounds`).
    pub fn revolving_rounds(&self) -> Option<Decimal> {
        rates::revolving_rounds(self.lent, self.received)
    }

    /// One tier's figures (zero if the tier never moved).
    pub fn tier(&self, tier: FundingTier) -> TierFigures {
        self.by_tier
            .iter()
            .find(|(t, _)| *t == tier)
            .map(|(_, f)| *f)
            .unwrap_or_default()
    }
}

/// One tier's figures within a fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierFigures {
    /// Appropriated (committed) by the tier.
    pub committed: Money,
    /// Received from the tier.
    pub received: Money,
    /// Available cash of the tier.
    pub available: Money,
    /// Reserved for pending approvals.
    pub reserved: Money,
    /// Paid out of the tier.
    pub disbursed: Money,
    /// Loan principal lent from the tier.
    pub lent: Money,
    /// Loan principal repaid to the tier.
    pub repaid: Money,
    /// Loan principal outstanding.
    pub loans_outstanding: Money,
    /// Loan principal written off.
    pub written_off: Money,
}

impl TierFigures {
    /// Arrival rate (资金到位率) = received ÷ committed (`rates::arrival_rate`).
    pub fn arrival_rate(&self) -> Option<Percent> {
        rates::arrival_rate(self.received, self.committed)
    }
}

impl From<&TierFen> for TierFigures {
    fn from(t: &TierFen) -> TierFigures {
        TierFigures {
            committed: money(t.committed),
            received: money(t.received),
            available: money(t.available),
            reserved: money(t.reserved),
            disbursed: money(t.disbursed),
            lent: money(t.lent),
            repaid: money(t.repaid),
            loans_outstanding: money(t.loans_outstanding),
            written_off: money(t.written_off),
        }
    }
}

/// The changes of a fund's figures summed per effective date, so that a figure "as of"
/// a date or over a period costs one pass over the days (a few thousand for a decade),
/// not over the movements. A day's entry lists only the figures that moved that day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Daily {
    days: BTreeMap<NaiveDate, Vec<Delta>>,
}

impl Daily {
    pub(crate) fn add(&mut self, date: NaiveDate, deltas: &[Delta]) {
        if deltas.is_empty() {
            return;
        }
        let day = self.days.entry(date).or_default();
        for d in deltas {
            merge(day, *d);
        }
    }

    /// The sum of the changes dated on or before `date`.
    pub(crate) fn through(&self, date: NaiveDate) -> FundFen {
        let mut sum = FundFen::default();
        for deltas in self.days.range(..=date).map(|(_, d)| d) {
            sum.add_all(deltas);
        }
        sum
    }

    /// The sum of the changes dated within `from..=to`.
    pub(crate) fn between(&self, from: NaiveDate, to: NaiveDate) -> FundFen {
        let mut sum = FundFen::default();
        for deltas in self.days.range(from..=to).map(|(_, d)| d) {
            sum.add_all(deltas);
        }
        sum
    }

    /// The latest date with a change, if any.
    pub(crate) fn last_date(&self) -> Option<NaiveDate> {
        self.days.keys().next_back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_domain::{FundId, LoanId};

    fn yuan(y: i64) -> Amount {
        Amount::from_yuan(y).unwrap()
    }

    fn fund() -> FundId {
        FundId::new("F").unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, d).unwrap()
    }

    #[test]
    fn a_repayment_with_interest_returns_principal_to_its_tier_and_interest_to_the_interest_tier() {
        let event = Event::LoanRepaid {
            loan: LoanId::new("L").unwrap(),
            fund: fund(),
            tier: FundingTier::City,
            principal: yuan(300),
            interest: yuan(12),
        };
        let mut fen = FundFen::default();
        fen.add_all(changes_of(&event).as_slice());
        let f = fen.figures();
        assert_eq!(f.available, Money::from_fen(31_200));
        assert_eq!(f.repaid, Money::from_fen(30_000));
        assert_eq!(f.loans_outstanding, Money::from_fen(-30_000));
        assert_eq!(f.interest_income, Money::from_fen(1_200));
        assert_eq!(
            f.tier(FundingTier::Interest).available,
            Money::from_fen(1_200)
        );
        assert_eq!(f.tier(FundingTier::City).available, Money::from_fen(30_000));
    }

    #[test]
    fn a_reversal_makes_the_opposite_changes() {
        let receipt = Event::AppropriationReceived {
            fund: fund(),
            tier: FundingTier::Province,
            amount: yuan(500),
            reference: None,
        };
        let reversal = Event::EventReversed {
            position: 7,
            reason: "typo".into(),
            reversed: receipt.reversible().unwrap(),
        };
        let mut fen = FundFen::default();
        fen.add_all(changes_of(&receipt).as_slice());
        assert_eq!(fen.figures().received, Money::from_fen(50_000));
        fen.add_all(changes_of(&reversal).as_slice());
        assert_eq!(fen, FundFen::default());
        assert!(fen.figures().by_tier.is_empty());
    }

    #[test]
    fn changes_that_cancel_within_a_day_leave_no_entry() {
        let mut list = Vec::new();
        merge(
            &mut list,
            Delta {
                tier: FundingTier::City,
                component: Component::Available,
                fen: 5,
            },
        );
        merge(
            &mut list,
            Delta {
                tier: FundingTier::City,
                component: Component::Reserved,
                fen: 5,
            },
        );
        merge(
            &mut list,
            Delta {
                tier: FundingTier::City,
                component: Component::Available,
                fen: -5,
            },
        );
        assert_eq!(
            list,
            vec![Delta {
                tier: FundingTier::City,
                component: Component::Reserved,
                fen: 5
            }]
        );
        merge(
            &mut list,
            Delta {
                tier: FundingTier::City,
                component: Component::Reserved,
                fen: 0,
            },
        );
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn daily_sums_answer_through_and_between_by_effective_date() {
        let mut daily = Daily::default();
        let d = |fen| {
            [Delta {
                tier: FundingTier::City,
                component: Component::Received,
                fen,
            }]
        };
        daily.add(day(3), &d(100));
        daily.add(day(1), &d(10));
        daily.add(day(3), &d(1));
        daily.add(day(9), &d(1_000));
        assert_eq!(
            daily.through(day(2)).figures().received,
            Money::from_fen(10)
        );
        assert_eq!(
            daily.through(day(3)).figures().received,
            Money::from_fen(111)
        );
        assert_eq!(
            daily.between(day(2), day(9)).figures().received,
            Money::from_fen(1_101)
        );
        assert_eq!(daily.last_date(), Some(day(9)));
    }
}
