//! The write-side state `decide` checks commands against, `evolve` (the only way it changes), and pure read helpers over it.
//!
//! Everything is keyed by id in ordered maps, so serialising a snapshot and every
//! iteration are deterministic. Nothing here is ever cloned wholesale on the hot path.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::access::{Access, Token, User};
use crate::catalogue::{
    BeneficiaryCategory, BeneficiaryKind, FundingTier, InsuranceModel, Period, PolicyLine,
    Programme, TierSplit, UnitLevel,
};
use crate::command::Payment;
use crate::event::{Event, Purpose, Recorded, Reversible};
use crate::ids::{AwardId, BeneficiaryId, CampaignId, FundId, LoanId, UnitCode, UserId};
use crate::money::{Amount, Money};
use crate::rates::{self, Percent};
use crate::rejection_terms::LoanStanding;

/// An organisational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub(crate) name: String,
    pub(crate) level: UnitLevel,
    pub(crate) parent: Option<UnitCode>,
}

impl Unit {
    /// The unit's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its level.
    pub fn level(&self) -> UnitLevel {
        self.level
    }
    /// Its parent (none for a province).
    pub fn parent(&self) -> Option<&UnitCode> {
        self.parent.as_ref()
    }
}

/// One tier's sub-ledger within a fund. All figures are cumulative except `cash`,
/// `reserved` and `loans_outstanding`, which are balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TierBalance {
    pub(crate) committed: Money,
    pub(crate) received: Money,
    pub(crate) cash: Money,
    pub(crate) reserved: Money,
    pub(crate) disbursed: Money,
    pub(crate) lent: Money,
    pub(crate) repaid: Money,
    pub(crate) loans_outstanding: Money,
    pub(crate) written_off: Money,
}

impl TierBalance {
    /// Appropriated (committed, 下达) by the tier.
    pub fn committed(&self) -> Money {
        self.committed
    }
    /// Received (到位) from the tier.
    pub fn received(&self) -> Money {
        self.received
    }
    /// Available cash: not lent, not paid out, not reserved. Never negative.
    pub fn available(&self) -> Money {
        self.cash
    }
    /// Reserved for payments awaiting approval.
    pub fn reserved(&self) -> Money {
        self.reserved
    }
    /// Paid out: loans lent, grants, instalments, premiums to the insurer, claims.
    pub fn disbursed(&self) -> Money {
        self.disbursed
    }
    /// Loan principal lent (part of `disbursed`).
    pub fn lent(&self) -> Money {
        self.lent
    }
    /// Loan principal repaid.
    pub fn repaid(&self) -> Money {
        self.repaid
    }
    /// Loan principal outstanding.
    pub fn loans_outstanding(&self) -> Money {
        self.loans_outstanding
    }
    /// Loan principal written off.
    pub fn written_off(&self) -> Money {
        self.written_off
    }
    /// Arrival rate (received ÷ committed).
    pub fn arrival_rate(&self) -> Option<Percent> {
        rates::arrival_rate(self.received, self.committed)
    }
}

/// Premium and claim totals of one policy line of an insurance fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InsuranceTotals {
    pub(crate) premium_tax_inclusive: Money,
    pub(crate) premium_tax_exclusive: Money,
    pub(crate) households: u64,
    pub(crate) persons: u64,
    pub(crate) claims_count: u64,
    pub(crate) claims_paid_by_insurer: Money,
    pub(crate) claims_paid_by_fund: Money,
    pub(crate) outstanding_reserve: Money,
}

impl InsuranceTotals {
    /// Premiums including tax.
    pub fn premium_tax_inclusive(&self) -> Money {
        self.premium_tax_inclusive
    }
    /// Premiums excluding tax (税后保费收入), the loss ratios' denominator.
    pub fn premium_tax_exclusive(&self) -> Money {
        self.premium_tax_exclusive
    }
    /// Households covered (summed over premium records).
    pub fn households(&self) -> u64 {
        self.households
    }
    /// Persons covered (summed over premium records).
    pub fn persons(&self) -> u64 {
        self.persons
    }
    /// Number of claims paid.
    pub fn claims_count(&self) -> u64 {
        self.claims_count
    }
    /// Claims paid (已决), by the insurer or the fund.
    pub fn claims_paid(&self) -> Money {
        self.claims_paid_by_insurer + self.claims_paid_by_fund
    }
    /// Claims paid by the insurer.
    pub fn claims_paid_by_insurer(&self) -> Money {
        self.claims_paid_by_insurer
    }
    /// Claims paid by the fund (self-insured).
    pub fn claims_paid_by_fund(&self) -> Money {
        self.claims_paid_by_fund
    }
    /// The latest outstanding-claims reserve estimate (未决).
    pub fn outstanding_reserve(&self) -> Money {
        self.outstanding_reserve
    }
    /// 简单赔付率 = 已决赔款 ÷ 税后保费收入.
    pub fn simple_loss_ratio(&self) -> Option<Percent> {
        rates::simple_loss_ratio(self.claims_paid(), self.premium_tax_exclusive)
    }
    /// Incurred loss ratio = (已决 + 未决) ÷ 税后保费收入.
    pub fn incurred_loss_ratio(&self) -> Option<Percent> {
        rates::incurred_loss_ratio(
            self.claims_paid(),
            self.outstanding_reserve,
            self.premium_tax_exclusive,
        )
    }
}

/// A fund and its per-tier sub-ledgers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fund {
    pub(crate) unit: UnitCode,
    pub(crate) programme: Programme,
    pub(crate) name: String,
    pub(crate) fiscal_year: Option<i32>,
    pub(crate) approval_threshold: Option<Amount>,
    pub(crate) insurance_model: Option<InsuranceModel>,
    pub(crate) tiers: [TierBalance; 9],
    pub(crate) interest_income: Money,
    pub(crate) household_contributions: Money,
    pub(crate) insurance: BTreeMap<PolicyLine, InsuranceTotals>,
}

impl Fund {
    /// The unit holding the fund.
    pub fn unit(&self) -> &UnitCode {
        &self.unit
    }
    /// The programme.
    pub fn programme(&self) -> Programme {
        self.programme
    }
    /// The fund's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The fiscal year, if the fund has one.
    pub fn fiscal_year(&self) -> Option<i32> {
        self.fiscal_year
    }
    /// Payments above this need approval.
    pub fn approval_threshold(&self) -> Option<Amount> {
        self.approval_threshold
    }
    /// The insurance model (insurance funds only).
    pub fn insurance_model(&self) -> Option<InsuranceModel> {
        self.insurance_model
    }
    /// One tier's sub-ledger.
    pub fn tier(&self, tier: FundingTier) -> &TierBalance {
        &self.tiers[tier.index()]
    }
    pub(crate) fn tier_mut(&mut self, tier: FundingTier) -> &mut TierBalance {
        &mut self.tiers[tier.index()]
    }
    /// Interest received on loans.
    pub fn interest_income(&self) -> Money {
        self.interest_income
    }
    /// Households' own premium contributions.
    pub fn household_contributions(&self) -> Money {
        self.household_contributions
    }
    /// Insurance totals of a policy line.
    pub fn insurance(&self, line: PolicyLine) -> Option<&InsuranceTotals> {
        self.insurance.get(&line)
    }
    fn sum(&self, field: impl Fn(&TierBalance) -> Money) -> Money {
        self.tiers.iter().map(field).sum()
    }
    /// The fund balance summary: every tier plus totals.
    pub fn balance(&self) -> FundBalance {
        FundBalance {
            by_tier: FundingTier::ALL
                .iter()
                .map(|&t| (t, *self.tier(t)))
                .filter(|(_, b)| *b != TierBalance::default())
                .collect(),
            committed: self.sum(|t| t.committed),
            received: self.sum(|t| t.received),
            disbursed: self.sum(|t| t.disbursed),
            lent: self.sum(|t| t.lent),
            repaid: self.sum(|t| t.repaid),
            loans_outstanding: self.sum(|t| t.loans_outstanding),
            reserved: self.sum(|t| t.reserved),
            written_off: self.sum(|t| t.written_off),
            available: self.sum(|t| t.cash),
            interest_income: self.interest_income,
            household_contributions: self.household_contributions,
        }
    }
}

/// A fund's balance: the figures of the "fund balance" query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundBalance {
    /// Tiers with any activity, in tier order.
    pub by_tier: Vec<(FundingTier, TierBalance)>,
    /// Appropriated (committed) by all tiers.
    pub committed: Money,
    /// Received from all tiers.
    pub received: Money,
    /// Paid out.
    pub disbursed: Money,
    /// Loan principal lent.
    pub lent: Money,
    /// Loan principal repaid.
    pub repaid: Money,
    /// Loan principal outstanding.
    pub loans_outstanding: Money,
    /// Reserved for pending approvals.
    pub reserved: Money,
    /// Written off.
    pub written_off: Money,
    /// Available cash.
    pub available: Money,
    /// Interest received.
    pub interest_income: Money,
    /// Households' premium contributions.
    pub household_contributions: Money,
}

impl FundBalance {
    /// Budget execution rate = disbursed ÷ appropriated.
    pub fn budget_execution_rate(&self) -> Option<Percent> {
        rates::budget_execution_rate(self.disbursed, self.committed)
    }
    /// Revolving rounds = principal lent ÷ capital received.
    pub fn revolving_rounds(&self) -> Option<Decimal> {
        rates::revolving_rounds(self.lent, self.received)
    }
}

/// A registered beneficiary (no personal information).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    pub(crate) unit: UnitCode,
    pub(crate) kind: BeneficiaryKind,
    pub(crate) categories: BTreeSet<BeneficiaryCategory>,
    pub(crate) status: BeneficiaryStatus,
}

/// Whether a beneficiary's personal information may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BeneficiaryStatus {
    /// In use: may be paid, and staff with the permission may read their data.
    Active,
    /// Stored only (PIPL Art. 47 ¶2): not paid, not read, until lifted.
    Restricted,
    /// The personal information was destroyed; the history stays.
    Erased,
}

impl BeneficiaryStatus {
    /// The snake_case name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            BeneficiaryStatus::Active => "active",
            BeneficiaryStatus::Restricted => "restricted",
            BeneficiaryStatus::Erased => "erased",
        }
    }
}

impl Beneficiary {
    /// Active, restricted or erased.
    pub fn status(&self) -> BeneficiaryStatus {
        self.status
    }
    /// The unit the beneficiary belongs to.
    pub fn unit(&self) -> &UnitCode {
        &self.unit
    }
    /// Household or person.
    pub fn kind(&self) -> BeneficiaryKind {
        self.kind
    }
    /// Categories.
    pub fn categories(&self) -> &BTreeSet<BeneficiaryCategory> {
        &self.categories
    }
}

/// A loan's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoanStatus {
    /// Lent and not written off (possibly fully repaid).
    Active,
    /// Outstanding principal written off.
    WrittenOff,
    /// The disbursement was reversed.
    Reversed,
}

/// The schedule in force: equal principal instalments from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleBasis {
    pub(crate) start: NaiveDate,
    pub(crate) principal: Money,
    pub(crate) term_months: u16,
    pub(crate) grace_months: u16,
    pub(crate) annual_rate_bp: u16,
    /// Repayments recorded after this log position count against this schedule.
    pub(crate) from_position: u64,
}

/// One scheduled instalment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// 1-based number.
    pub number: u16,
    /// Due date.
    pub due_on: NaiveDate,
    /// Principal due.
    pub principal: Money,
    /// Interest due (zero on interest-free loans).
    pub interest: Money,
}

/// A repayment as a loan remembers it (for overdue and repayment-rate queries as of a date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepaymentEntry {
    pub(crate) position: u64,
    pub(crate) paid_on: NaiveDate,
    pub(crate) principal: Money,
}

/// A loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loan {
    pub(crate) fund: FundId,
    pub(crate) tier: FundingTier,
    pub(crate) beneficiary: BeneficiaryId,
    pub(crate) principal: Amount,
    pub(crate) disbursed_on: NaiveDate,
    pub(crate) position: u64,
    pub(crate) status: LoanStatus,
    pub(crate) outstanding: Money,
    pub(crate) repaid: Money,
    pub(crate) interest_paid: Money,
    pub(crate) written_off: Money,
    pub(crate) rescheduled: bool,
    pub(crate) schedule: ScheduleBasis,
    pub(crate) repayments: Vec<RepaymentEntry>,
}

impl Loan {
    /// The fund lent from.
    pub fn fund(&self) -> &FundId {
        &self.fund
    }
    /// The tier lent from.
    pub fn tier(&self) -> FundingTier {
        self.tier
    }
    /// The borrower.
    pub fn beneficiary(&self) -> &BeneficiaryId {
        &self.beneficiary
    }
    /// The principal lent.
    pub fn principal(&self) -> Amount {
        self.principal
    }
    /// The disbursement date.
    pub fn disbursed_on(&self) -> NaiveDate {
        self.disbursed_on
    }
    /// The status.
    pub fn status(&self) -> LoanStatus {
        self.status
    }
    /// Where the loan stands, as a message names it: its status, and for an active loan
    /// whether it is fully repaid.
    pub fn standing(&self) -> LoanStanding {
        match self.status {
            LoanStatus::Active if self.outstanding.is_zero() => LoanStanding::FullyRepaid,
            LoanStatus::Active => LoanStanding::Active,
            LoanStatus::WrittenOff => LoanStanding::WrittenOff,
            LoanStatus::Reversed => LoanStanding::Reversed,
        }
    }
    /// Principal outstanding now.
    pub fn outstanding(&self) -> Money {
        self.outstanding
    }
    /// Principal repaid.
    pub fn repaid(&self) -> Money {
        self.repaid
    }
    /// Interest paid.
    pub fn interest_paid(&self) -> Money {
        self.interest_paid
    }
    /// Principal written off.
    pub fn written_off(&self) -> Money {
        self.written_off
    }

    fn instalment_count(&self) -> u16 {
        self.schedule.term_months
    }

    fn due_date(&self, number: u16) -> NaiveDate {
        let months = u32::from(self.schedule.grace_months) + u32::from(number);
        // chrono clamps to the month's last day (31 Jan + 1 month = 28/29 Feb), which is
        // how instalment dates are set in practice.
        self.schedule
            .start
            .checked_add_months(Months::new(months))
            .expect("loan dates stay within chrono's range")
    }

    /// Principal due by the end of instalment `number` (cumulative, in fen).
    fn cumulative_due_fen(&self, number: u16) -> i128 {
        let n = i128::from(self.instalment_count());
        let total = self.schedule.principal.fen_i128();
        let base = total / n;
        let k = i128::from(number);
        // Equal instalments; the remainder of the division (a few fen) falls on the last.
        if k >= n {
            total
        } else {
            base * k
        }
    }

    /// The schedule in force (after a reschedule, of the rescheduled principal).
    pub fn schedule(&self) -> Vec<Instalment> {
        let n = self.instalment_count();
        let rate = Decimal::from(self.schedule.annual_rate_bp);
        (1..=n)
            .map(|k| {
                let before = self.cumulative_due_fen(k - 1);
                let principal_fen = self.cumulative_due_fen(k) - before;
                let balance_fen = self.schedule.principal.fen_i128() - before;
                // Monthly interest on the scheduled balance: balance × rate_bp ÷ 10,000 ÷ 12,
                // rounded half away from zero to the fen.
                let interest_fen = (Decimal::from_i128_with_scale(balance_fen, 0) * rate
                    / Decimal::from(120_000))
                .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                .mantissa();
                Instalment {
                    number: k,
                    due_on: self.due_date(k),
                    principal: money_from_fen(principal_fen),
                    interest: money_from_fen(interest_fen),
                }
            })
            .collect()
    }

    fn repayments_since_basis(&self, as_of: NaiveDate) -> impl Iterator<Item = &RepaymentEntry> {
        let from = self.schedule.from_position;
        self.repayments
            .iter()
            .filter(move |r| r.position > from && r.paid_on <= as_of)
    }

    /// Principal due on or before `as_of` under the schedule in force.
    pub fn principal_due_by(&self, as_of: NaiveDate) -> Money {
        let due_count = (1..=self.instalment_count())
            .take_while(|&k| self.due_date(k) <= as_of)
            .count();
        let due_count = u16::try_from(due_count).expect("at most LOAN_TERM_MONTHS_MAX");
        money_from_fen(self.cumulative_due_fen(due_count))
    }

    fn repaid_by_fen(&self, as_of: NaiveDate) -> i128 {
        self.repayments_since_basis(as_of)
            .map(|r| r.principal.fen_i128())
            .sum()
    }

    /// Overdue principal as of a date: due so far minus repaid so far (never negative);
    /// zero unless the loan is active.
    pub fn overdue_principal(&self, as_of: NaiveDate) -> Money {
        if self.status != LoanStatus::Active {
            return Money::ZERO;
        }
        let due = self.principal_due_by(as_of).fen_i128();
        money_from_fen((due - self.repaid_by_fen(as_of)).max(0))
    }

    /// Days the oldest unpaid instalment is past due as of a date (0 if none).
    /// Repayments are applied to the earliest instalments first.
    pub fn days_past_due(&self, as_of: NaiveDate) -> i64 {
        if self.status != LoanStatus::Active {
            return 0;
        }
        let repaid = self.repaid_by_fen(as_of);
        let oldest_unpaid =
            (1..=self.instalment_count()).find(|&k| self.cumulative_due_fen(k) > repaid);
        match oldest_unpaid {
            Some(k) if self.due_date(k) < as_of => (as_of - self.due_date(k)).num_days(),
            _ => 0,
        }
    }

    /// Whether the loan counts in PAR30 as of a date: active, principal outstanding, and
    /// an instalment more than 30 days past due.
    pub fn at_risk_30(&self, as_of: NaiveDate) -> bool {
        self.status == LoanStatus::Active
            && !self.outstanding.is_zero()
            && self.days_past_due(as_of) > 30
    }

    /// Principal repaid on time for instalments due by `as_of`: repayments are applied
    /// to instalments in order (earliest first, repayments in date order), and the part
    /// paid on or before an instalment's due date counts as on time.
    pub fn repaid_on_time_by(&self, as_of: NaiveDate) -> Money {
        let mut payments: Vec<(NaiveDate, u64, i128)> = self
            .repayments_since_basis(as_of)
            .map(|r| (r.paid_on, r.position, r.principal.fen_i128()))
            .collect();
        payments.sort_unstable();
        let mut next = 0usize;
        let mut left_in_payment = payments.first().map_or(0, |p| p.2);
        let mut on_time = 0i128;
        for k in 1..=self.instalment_count() {
            let due_on = self.due_date(k);
            if due_on > as_of {
                break;
            }
            let mut need = self.cumulative_due_fen(k) - self.cumulative_due_fen(k - 1);
            while need > 0 && next < payments.len() {
                let take = need.min(left_in_payment);
                if payments[next].0 <= due_on {
                    on_time += take;
                }
                need -= take;
                left_in_payment -= take;
                if left_in_payment == 0 {
                    next += 1;
                    left_in_payment = payments.get(next).map_or(0, |p| p.2);
                }
            }
        }
        money_from_fen(on_time)
    }
}

fn money_from_fen(fen: i128) -> Money {
    Money::from_fen(i64::try_from(fen).expect("loan figures fit in i64 fen"))
}

/// What an award is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AwardKind {
    /// A housing grant split across tiers.
    Housing { shares: TierSplit, visits: u32 },
    /// A bursary from one tier.
    Bursary {
        academic_year: i32,
        tier: FundingTier,
        years: u8,
        supplement: bool,
    },
}

/// A housing grant or bursary award and what has been paid against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    pub(crate) fund: FundId,
    pub(crate) beneficiary: BeneficiaryId,
    pub(crate) amount: Amount,
    pub(crate) kind: AwardKind,
    pub(crate) paid: [Money; 9],
    pub(crate) instalments: u32,
    pub(crate) reversed: bool,
}

impl Award {
    /// The fund charged.
    pub fn fund(&self) -> &FundId {
        &self.fund
    }
    /// The family or student.
    pub fn beneficiary(&self) -> &BeneficiaryId {
        &self.beneficiary
    }
    /// The amount awarded.
    pub fn amount(&self) -> Amount {
        self.amount
    }
    /// Housing or bursary details.
    pub fn kind(&self) -> &AwardKind {
        &self.kind
    }
    /// Paid so far by a tier.
    pub fn paid_by(&self, tier: FundingTier) -> Money {
        self.paid[tier.index()]
    }
    /// Paid so far in total.
    pub fn paid(&self) -> Money {
        self.paid.iter().copied().sum()
    }
    /// Unreversed instalments paid.
    pub fn instalments(&self) -> u32 {
        self.instalments
    }
    /// Whether the award was reversed.
    pub fn is_reversed(&self) -> bool {
        self.reversed
    }
    /// What a tier may still pay.
    pub fn remaining_for(&self, tier: FundingTier) -> Money {
        let share = match &self.kind {
            AwardKind::Housing { shares, .. } => {
                shares.share_of(tier).map_or(Money::ZERO, Amount::to_money)
            }
            AwardKind::Bursary { tier: own, .. } if *own == tier => self.amount.to_money(),
            AwardKind::Bursary { .. } => Money::ZERO,
        };
        share - self.paid_by(tier)
    }
}

/// The key under which a bursary counts as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BursaryKey {
    pub(crate) student: BeneficiaryId,
    pub(crate) academic_year: i32,
    pub(crate) tier: FundingTier,
}

/// The unreversed awards under one bursary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BursaryEntry {
    pub(crate) awards: Vec<AwardId>,
}

/// A payment waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub(crate) fund: FundId,
    pub(crate) maker: UserId,
    pub(crate) requested_on: NaiveDate,
    pub(crate) expires_on: NaiveDate,
    pub(crate) reserved: TierSplit,
    pub(crate) payment: Payment,
}

impl PendingRequest {
    /// The fund whose cash is reserved.
    pub fn fund(&self) -> &FundId {
        &self.fund
    }
    /// Who requested it.
    pub fn maker(&self) -> &UserId {
        &self.maker
    }
    /// When.
    pub fn requested_on(&self) -> NaiveDate {
        self.requested_on
    }
    /// The last day it can be approved.
    pub fn expires_on(&self) -> NaiveDate {
        self.expires_on
    }
    /// The cash reserved by tier.
    pub fn reserved(&self) -> &TierSplit {
        &self.reserved
    }
    /// The payment held.
    pub fn payment(&self) -> &Payment {
        &self.payment
    }
}

/// Serialises a map with non-string keys as a list of pairs, so the state also survives
/// human-readable formats whose maps need string keys.
pub(crate) mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let list = Vec::<(K, V)>::deserialize(deserializer)?;
        Ok(list.into_iter().collect())
    }
}

/// The write-side state: everything `decide` needs, updated only by `evolve`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    pub(crate) units: BTreeMap<UnitCode, Unit>,
    pub(crate) funds: BTreeMap<FundId, Fund>,
    pub(crate) beneficiaries: BTreeMap<BeneficiaryId, Beneficiary>,
    pub(crate) loans: BTreeMap<LoanId, Loan>,
    pub(crate) awards: BTreeMap<AwardId, Award>,
    #[serde(with = "pairs")]
    pub(crate) bursaries: BTreeMap<BursaryKey, BursaryEntry>,
    pub(crate) campaigns: BTreeMap<CampaignId, FundId>,
    pub(crate) pending: BTreeMap<u64, PendingRequest>,
    pub(crate) closed: BTreeMap<UnitCode, BTreeSet<Period>>,
    /// The positions of the unreversed money events: those a reversal may name.
    pub(crate) reversible: PositionSet,
    /// Whether `money_events` is kept. A lean state (`State::lean`) keeps only the
    /// positions, one bit each, and its reversals are decided with `decide_with`, which
    /// is handed the original's record (the engine reads it from the log).
    pub(crate) lean: bool,
    /// One compact record per unreversed money event, by log position (empty in a
    /// lean state).
    pub(crate) money_events: BTreeMap<u64, Reversible>,
    /// Reversed event position → the reversal's position.
    pub(crate) reversed: BTreeMap<u64, u64>,
    /// Positions of reversal events.
    pub(crate) reversals: BTreeSet<u64>,
    /// One past the last position evolved.
    pub(crate) next_position: u64,
    /// Staff users and their tokens.
    pub(crate) access: Access,
}

/// Whether an effect is being applied or undone by a reversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Apply,
    Undo,
}

impl Direction {
    fn money(self, amount: Amount) -> Money {
        match self {
            Direction::Apply => amount.to_money(),
            Direction::Undo => amount.to_money().negated(),
        }
    }

    fn total(self, total: Money) -> Money {
        match self {
            Direction::Apply => total,
            Direction::Undo => total.negated(),
        }
    }

    fn count(self, counter: &mut u64, by: u64) {
        match self {
            Direction::Apply => *counter += by,
            Direction::Undo => *counter -= by,
        }
    }
}

impl State {
    /// An empty ledger.
    pub fn new() -> State {
        State::default()
    }

    /// Staff users and API tokens.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// One past the position of the last event evolved (0 for an empty ledger).
    pub fn next_position(&self) -> u64 {
        self.next_position
    }

    /// A unit.
    pub fn unit(&self, code: &UnitCode) -> Option<&Unit> {
        self.units.get(code)
    }

    /// All units in code order.
    pub fn units(&self) -> impl Iterator<Item = (&UnitCode, &Unit)> {
        self.units.iter()
    }

    /// Whether `unit` is `ancestor` or lies below it (subtree query for roll-ups).
    pub fn is_within(&self, unit: &UnitCode, ancestor: &UnitCode) -> bool {
        let mut current = Some(unit);
        while let Some(code) = current {
            if code == ancestor {
                return true;
            }
            current = self.units.get(code).and_then(|u| u.parent.as_ref());
        }
        false
    }

    /// The unit and its ancestors, nearest first.
    pub fn ancestors_and_self<'a>(
        &'a self,
        unit: &'a UnitCode,
    ) -> impl Iterator<Item = &'a UnitCode> {
        let mut current = Some(unit);
        std::iter::from_fn(move || {
            let code = current?;
            current = self.units.get(code).and_then(|u| u.parent.as_ref());
            Some(code)
        })
    }

    /// If `date` lies in a closed period of `unit` or of an ancestor: that unit and period.
    pub fn closed_period_covering(
        &self,
        unit: &UnitCode,
        date: NaiveDate,
    ) -> Option<(UnitCode, Period)> {
        if self.closed.is_empty() {
            return None;
        }
        self.ancestors_and_self(unit).find_map(|code| {
            self.closed.get(code).and_then(|periods| {
                periods
                    .iter()
                    .find(|p| p.contains(date))
                    .map(|p| (code.clone(), *p))
            })
        })
    }

    /// Periods closed directly for a unit.
    pub fn closed_periods(&self, unit: &UnitCode) -> Option<&BTreeSet<Period>> {
        self.closed.get(unit)
    }

    /// A fund.
    pub fn fund(&self, fund: &FundId) -> Option<&Fund> {
        self.funds.get(fund)
    }

    /// All funds in id order.
    pub fn funds(&self) -> impl Iterator<Item = (&FundId, &Fund)> {
        self.funds.iter()
    }

    /// A fund's balance summary.
    pub fn fund_balance(&self, fund: &FundId) -> Option<FundBalance> {
        self.funds.get(fund).map(Fund::balance)
    }

    /// A beneficiary.
    pub fn beneficiary(&self, beneficiary: &BeneficiaryId) -> Option<&Beneficiary> {
        self.beneficiaries.get(beneficiary)
    }

    /// Every beneficiary, by id.
    pub fn beneficiaries(&self) -> impl Iterator<Item = (&BeneficiaryId, &Beneficiary)> {
        self.beneficiaries.iter()
    }

    /// A loan.
    pub fn loan(&self, loan: &LoanId) -> Option<&Loan> {
        self.loans.get(loan)
    }

    /// The loans of a fund, in loan-id order.
    pub fn loans_of<'a>(
        &'a self,
        fund: &'a FundId,
    ) -> impl Iterator<Item = (&'a LoanId, &'a Loan)> {
        self.loans.iter().filter(move |(_, l)| &l.fund == fund)
    }

    /// PAR30 inputs of a fund as of a date: (outstanding principal of loans more than
    /// 30 days past due, all outstanding principal of active loans).
    pub fn par30_inputs(&self, fund: &FundId, as_of: NaiveDate) -> (Money, Money) {
        self.loans_of(fund)
            .filter(|(_, l)| l.status == LoanStatus::Active)
            .fold((Money::ZERO, Money::ZERO), |(risk, all), (_, l)| {
                let at_risk = if l.at_risk_30(as_of) {
                    l.outstanding
                } else {
                    Money::ZERO
                };
                (risk + at_risk, all + l.outstanding)
            })
    }

    /// PAR30 of a fund as of a date.
    pub fn par30(&self, fund: &FundId, as_of: NaiveDate) -> Option<Percent> {
        let (risk, all) = self.par30_inputs(fund, as_of);
        rates::portfolio_at_risk(risk, all)
    }

    /// Repayment-rate inputs of a fund as of a date: (principal repaid on time, principal due).
    pub fn repayment_inputs(&self, fund: &FundId, as_of: NaiveDate) -> (Money, Money) {
        self.loans_of(fund)
            .filter(|(_, l)| l.status != LoanStatus::Reversed)
            .fold((Money::ZERO, Money::ZERO), |(on_time, due), (_, l)| {
                (
                    on_time + l.repaid_on_time_by(as_of),
                    due + l.principal_due_by(as_of),
                )
            })
    }

    /// Overdue principal of a fund's loans as of a date.
    pub fn overdue_principal(&self, fund: &FundId, as_of: NaiveDate) -> Money {
        self.loans_of(fund)
            .map(|(_, l)| l.overdue_principal(as_of))
            .sum()
    }

    /// An award.
    pub fn award(&self, award: &AwardId) -> Option<&Award> {
        self.awards.get(award)
    }

    /// Unreversed bursary awards for a student, academic year and tier.
    pub fn bursary_awards(
        &self,
        student: &BeneficiaryId,
        academic_year: i32,
        tier: FundingTier,
    ) -> &[AwardId] {
        let key = BursaryKey {
            student: student.clone(),
            academic_year,
            tier,
        };
        self.bursaries
            .get(&key)
            .map_or(&[], |e| e.awards.as_slice())
    }

    /// The fund a campaign pays from.
    pub fn campaign_fund(&self, campaign: &CampaignId) -> Option<&FundId> {
        self.campaigns.get(campaign)
    }

    /// A pending request by the position of its `PaymentRequested` event.
    pub fn pending_request(&self, request: u64) -> Option<&PendingRequest> {
        self.pending.get(&request)
    }

    /// All pending requests in position order.
    pub fn pending_requests(&self) -> impl Iterator<Item = (u64, &PendingRequest)> {
        self.pending.iter().map(|(p, r)| (*p, r))
    }

    /// A state that keeps one bit per unreversed money event instead of its reversal
    /// record: what a long-lived process holds for millions of events. Decide its
    /// reversals with [`crate::decide::decide_with`].
    pub fn lean() -> State {
        State {
            lean: true,
            ..State::default()
        }
    }

    /// A lean copy of this state: the same, without the reversal records.
    pub fn to_lean(&self) -> State {
        State {
            lean: true,
            money_events: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// Whether this state keeps only the positions of money events (see [`State::lean`]).
    pub fn is_lean(&self) -> bool {
        self.lean
    }

    /// The reversal record of an unreversed money event (always `None` in a lean state:
    /// see [`State::is_reversible`]).
    pub fn reversible_at(&self, position: u64) -> Option<&Reversible> {
        self.money_events.get(&position)
    }

    /// Whether the event at `position` is an unreversed money event, which a reversal
    /// may name.
    pub fn is_reversible(&self, position: u64) -> bool {
        self.reversible.contains(position)
    }

    /// The position of the reversal of an event, if it was reversed.
    pub fn reversed_by(&self, position: u64) -> Option<u64> {
        self.reversed.get(&position).copied()
    }

    /// Number of unreversed money events, which a reversal may name.
    pub fn reversible_count(&self) -> u64 {
        self.reversible.len()
    }

    /// The canonical (shared) copy of a fund id, so that records share one allocation.
    /// An id held inline has no allocation to share: it is copied without a lookup.
    fn intern_fund(&self, fund: &FundId) -> FundId {
        if fund.is_inline() {
            return fund.clone();
        }
        self.funds
            .get_key_value(fund)
            .map_or_else(|| fund.clone(), |(k, _)| k.clone())
    }

    fn fund_mut(&mut self, fund: &FundId, position: u64) -> &mut Fund {
        self.funds
            .get_mut(fund)
            .unwrap_or_else(|| panic!("event at {position} names unknown fund {fund}"))
    }

    fn loan_mut(&mut self, loan: &LoanId, position: u64) -> &mut Loan {
        self.loans
            .get_mut(loan)
            .unwrap_or_else(|| panic!("event at {position} names unknown loan {loan}"))
    }

    fn award_mut(&mut self, award: &AwardId, position: u64) -> &mut Award {
        self.awards
            .get_mut(award)
            .unwrap_or_else(|| panic!("event at {position} names unknown award {award}"))
    }

    fn reserve(&mut self, fund: &FundId, reserved: &TierSplit, release: bool, position: u64) {
        let fund = self.fund_mut(fund, position);
        for share in reserved.shares() {
            let tier = fund.tier_mut(share.tier);
            if release {
                tier.cash += share.amount;
                tier.reserved -= share.amount;
            } else {
                tier.cash -= share.amount;
                tier.reserved += share.amount;
            }
        }
    }

    /// Applies or undoes the money side of a reversible event.
    fn apply_money(&mut self, record: &Reversible, direction: Direction, recorded: &Recorded) {
        let position = recorded.position;
        let d = direction;
        match record {
            Reversible::Commitment { fund, tier, amount } => {
                self.fund_mut(fund, position).tier_mut(*tier).committed += d.money(*amount);
            }
            Reversible::Receipt { fund, tier, amount } => {
                let t = self.fund_mut(fund, position).tier_mut(*tier);
                t.received += d.money(*amount);
                t.cash += d.money(*amount);
            }
            Reversible::Loan {
                fund,
                loan,
                tier,
                principal,
            } => {
                let t = self.fund_mut(fund, position).tier_mut(*tier);
                t.cash -= d.money(*principal);
                t.disbursed += d.money(*principal);
                t.lent += d.money(*principal);
                t.loans_outstanding += d.money(*principal);
                if d == Direction::Undo {
                    let l = self.loan_mut(loan, position);
                    l.status = LoanStatus::Reversed;
                    l.outstanding = Money::ZERO;
                }
            }
            Reversible::Repayment {
                fund,
                loan,
                tier,
                principal,
                interest,
            } => {
                let f = self.fund_mut(fund, position);
                let t = f.tier_mut(*tier);
                t.cash += d.money(*principal);
                t.repaid += d.money(*principal);
                t.loans_outstanding -= d.money(*principal);
                f.tier_mut(FundingTier::Interest).cash += d.money(*interest);
                f.interest_income += d.money(*interest);
                let l = self.loan_mut(loan, position);
                l.outstanding -= d.money(*principal);
                l.repaid += d.money(*principal);
                l.interest_paid += d.money(*interest);
                // The original position: for Apply it is this event's, for Undo the
                // reversal names it (handled by the caller passing it in `recorded`).
                match d {
                    Direction::Apply => l.repayments.push(RepaymentEntry {
                        position,
                        paid_on: recorded.effective_date,
                        principal: principal.to_money(),
                    }),
                    Direction::Undo => {
                        let original = match &recorded.event {
                            Event::EventReversed { position, .. } => *position,
                            _ => unreachable!("undo is only driven by EventReversed"),
                        };
                        l.repayments.retain(|r| r.position != original);
                    }
                }
            }
            Reversible::WriteOff {
                fund,
                loan,
                tier,
                amount,
            } => {
                let t = self.fund_mut(fund, position).tier_mut(*tier);
                t.loans_outstanding -= d.money(*amount);
                t.written_off += d.money(*amount);
                let l = self.loan_mut(loan, position);
                l.outstanding -= d.money(*amount);
                l.written_off += d.money(*amount);
                l.status = match d {
                    Direction::Apply => LoanStatus::WrittenOff,
                    Direction::Undo => LoanStatus::Active,
                };
            }
            Reversible::Payment {
                fund,
                purpose,
                shares,
            } => {
                let f = self.fund_mut(fund, position);
                for share in shares.shares() {
                    let t = f.tier_mut(share.tier);
                    t.cash -= d.money(share.amount);
                    t.disbursed += d.money(share.amount);
                }
                match purpose {
                    Purpose::Grant | Purpose::Condolence => {}
                    Purpose::Claim { line } => {
                        let totals = f.insurance.entry(*line).or_default();
                        d.count(&mut totals.claims_count, 1);
                        totals.claims_paid_by_fund += d.total(shares.total());
                    }
                    Purpose::HousingInstalment { award } | Purpose::BursaryInstalment { award } => {
                        let a = self.award_mut(award, position);
                        for share in shares.shares() {
                            a.paid[share.tier.index()] += d.money(share.amount);
                        }
                        match d {
                            Direction::Apply => a.instalments += 1,
                            Direction::Undo => a.instalments -= 1,
                        }
                    }
                }
            }
            Reversible::Premium {
                fund,
                line,
                model,
                shares,
                tax_exclusive,
                households,
                persons,
            } => {
                let f = self.fund_mut(fund, position);
                for share in shares.shares() {
                    let household = share.tier == FundingTier::HouseholdContribution;
                    match (model, household) {
                        (InsuranceModel::InsurerUnderwritten, true) => {
                            f.household_contributions += d.money(share.amount);
                        }
                        (InsuranceModel::InsurerUnderwritten, false) => {
                            let t = f.tier_mut(share.tier);
                            t.cash -= d.money(share.amount);
                            t.disbursed += d.money(share.amount);
                        }
                        (InsuranceModel::SelfInsured, true) => {
                            f.household_contributions += d.money(share.amount);
                            f.tier_mut(share.tier).cash += d.money(share.amount);
                        }
                        (InsuranceModel::SelfInsured, false) => {}
                    }
                }
                let totals = f.insurance.entry(*line).or_default();
                totals.premium_tax_inclusive += d.total(shares.total());
                totals.premium_tax_exclusive += d.money(*tax_exclusive);
                d.count(&mut totals.households, u64::from(*households));
                d.count(&mut totals.persons, u64::from(*persons));
            }
            Reversible::InsurerClaim { fund, line, amount } => {
                let totals = self
                    .fund_mut(fund, position)
                    .insurance
                    .entry(*line)
                    .or_default();
                d.count(&mut totals.claims_count, 1);
                totals.claims_paid_by_insurer += d.money(*amount);
            }
            Reversible::HousingAward { award, .. } => {
                if d == Direction::Undo {
                    self.award_mut(award, position).reversed = true;
                }
            }
            Reversible::BursaryAward { award, .. } => {
                if d == Direction::Undo {
                    let a = self.award_mut(award, position);
                    a.reversed = true;
                    let key = match &a.kind {
                        AwardKind::Bursary {
                            academic_year,
                            tier,
                            ..
                        } => BursaryKey {
                            student: a.beneficiary.clone(),
                            academic_year: *academic_year,
                            tier: *tier,
                        },
                        AwardKind::Housing { .. } => {
                            panic!("event at {position} reverses {award} as a bursary")
                        }
                    };
                    if let Some(entry) = self.bursaries.get_mut(&key) {
                        entry.awards.retain(|x| x != award);
                        if entry.awards.is_empty() {
                            self.bursaries.remove(&key);
                        }
                    }
                }
            }
        }
    }
}

/// Applies a recorded event to the state. Deterministic; never fails: an event that
/// does not fit the state means the log and the state disagree, which is a programmer
/// error and panics (events only come from `decide` against this same state).
pub fn evolve(state: &mut State, recorded: &Recorded) {
    let position = recorded.position;
    assert!(
        position >= state.next_position,
        "event positions must increase: got {position} after {}",
        state.next_position
    );
    state.next_position = position + 1;
    let date = recorded.effective_date;
    match &recorded.event {
        Event::UnitRegistered {
            unit,
            name,
            level,
            parent,
        } => {
            state.units.insert(
                unit.clone(),
                Unit {
                    name: name.clone(),
                    level: *level,
                    parent: parent.clone(),
                },
            );
        }
        Event::FundOpened {
            fund,
            unit,
            programme,
            name,
            fiscal_year,
            approval_threshold,
            insurance_model,
        } => {
            state.funds.insert(
                fund.clone(),
                Fund {
                    unit: unit.clone(),
                    programme: *programme,
                    name: name.clone(),
                    fiscal_year: *fiscal_year,
                    approval_threshold: *approval_threshold,
                    insurance_model: *insurance_model,
                    tiers: [TierBalance::default(); 9],
                    interest_income: Money::ZERO,
                    household_contributions: Money::ZERO,
                    insurance: BTreeMap::new(),
                },
            );
        }
        Event::ApprovalThresholdSet { fund, threshold } => {
            state.fund_mut(fund, position).approval_threshold = *threshold;
        }
        Event::BeneficiaryRegistered {
            beneficiary,
            unit,
            kind,
            categories,
        } => {
            state.beneficiaries.insert(
                beneficiary.clone(),
                Beneficiary {
                    unit: unit.clone(),
                    kind: *kind,
                    categories: categories.clone(),
                    status: BeneficiaryStatus::Active,
                },
            );
        }
        Event::LoanDisbursed(l) => {
            let fund = state.intern_fund(&l.fund);
            state.loans.insert(
                l.loan.clone(),
                Loan {
                    fund,
                    tier: l.tier,
                    beneficiary: l.beneficiary.clone(),
                    principal: l.principal,
                    disbursed_on: date,
                    position,
                    status: LoanStatus::Active,
                    outstanding: l.principal.to_money(),
                    repaid: Money::ZERO,
                    interest_paid: Money::ZERO,
                    written_off: Money::ZERO,
                    rescheduled: false,
                    schedule: ScheduleBasis {
                        start: date,
                        principal: l.principal.to_money(),
                        term_months: l.term_months,
                        grace_months: l.grace_months,
                        annual_rate_bp: l.annual_rate_bp,
                        from_position: position,
                    },
                    repayments: Vec::new(),
                },
            );
        }
        Event::LoanRescheduled {
            loan,
            outstanding,
            term_months,
            grace_months,
            annual_rate_bp,
            ..
        } => {
            let l = state.loan_mut(loan, position);
            l.rescheduled = true;
            l.schedule = ScheduleBasis {
                start: date,
                principal: outstanding.to_money(),
                term_months: *term_months,
                grace_months: *grace_months,
                annual_rate_bp: *annual_rate_bp,
                from_position: position,
            };
        }
        Event::HousingGrantAwarded {
            award,
            fund,
            beneficiary,
            amount,
            shares,
        } => {
            let fund = state.intern_fund(fund);
            state.awards.insert(
                award.clone(),
                Award {
                    fund,
                    beneficiary: beneficiary.clone(),
                    amount: *amount,
                    kind: AwardKind::Housing {
                        shares: shares.clone(),
                        visits: 0,
                    },
                    paid: [Money::ZERO; 9],
                    instalments: 0,
                    reversed: false,
                },
            );
        }
        Event::FollowUpVisitRecorded { award, .. } => {
            if let AwardKind::Housing { visits, .. } = &mut state.award_mut(award, position).kind {
                *visits += 1;
            }
        }
        Event::BursaryAwarded {
            award,
            fund,
            student,
            academic_year,
            tier,
            amount,
            years,
            supplement_reason,
        } => {
            let fund = state.intern_fund(fund);
            state.awards.insert(
                award.clone(),
                Award {
                    fund,
                    beneficiary: student.clone(),
                    amount: *amount,
                    kind: AwardKind::Bursary {
                        academic_year: *academic_year,
                        tier: *tier,
                        years: *years,
                        supplement: supplement_reason.is_some(),
                    },
                    paid: [Money::ZERO; 9],
                    instalments: 0,
                    reversed: false,
                },
            );
            let key = BursaryKey {
                student: student.clone(),
                academic_year: *academic_year,
                tier: *tier,
            };
            state
                .bursaries
                .entry(key)
                .or_insert_with(|| BursaryEntry { awards: Vec::new() })
                .awards
                .push(award.clone());
        }
        Event::CampaignOpened { campaign, fund, .. } => {
            let fund = state.intern_fund(fund);
            state.campaigns.insert(campaign.clone(), fund);
        }
        Event::ClaimsReserveEstimated { fund, line, amount } => {
            state
                .fund_mut(fund, position)
                .insurance
                .entry(*line)
                .or_default()
                .outstanding_reserve = amount.to_money();
        }
        Event::PaymentRequested {
            fund,
            reserved,
            expires_on,
            payment,
        } => {
            state.reserve(fund, reserved, false, position);
            let fund = state.intern_fund(fund);
            state.pending.insert(
                position,
                PendingRequest {
                    fund,
                    maker: recorded.actor.clone(),
                    requested_on: date,
                    expires_on: *expires_on,
                    reserved: reserved.clone(),
                    payment: payment.clone(),
                },
            );
        }
        Event::PaymentApproved {
            request,
            fund,
            reserved,
        }
        | Event::PaymentRejected {
            request,
            fund,
            reserved,
            ..
        }
        | Event::PaymentRequestExpired {
            request,
            fund,
            reserved,
        } => {
            state.reserve(fund, reserved, true, position);
            state.pending.remove(request);
        }
        Event::PeriodClosed { unit, period } => {
            state
                .closed
                .entry(unit.clone())
                .or_default()
                .insert(*period);
        }
        Event::EventReversed {
            position: original,
            reversed,
            ..
        } => {
            state.apply_money(reversed, Direction::Undo, recorded);
            state.reversible.remove(*original);
            state.money_events.remove(original);
            state.reversed.insert(*original, position);
            state.reversals.insert(position);
        }
        Event::UserRegistered { user, role, scope } => {
            state.access.users.insert(
                user.clone(),
                User {
                    role: *role,
                    scope: scope.clone(),
                    active: true,
                    personal_data: false,
                },
            );
        }
        Event::UserRoleChanged { user, role, scope } => {
            if let Some(u) = state.access.users.get_mut(user) {
                u.role = *role;
                u.scope = scope.clone();
                u.active = true;
            }
        }
        Event::PersonalDataAccessGranted { user, .. }
        | Event::PersonalDataAccessWithdrawn { user, .. } => {
            if let Some(u) = state.access.users.get_mut(user) {
                u.personal_data = matches!(recorded.event, Event::PersonalDataAccessGranted { .. });
            }
        }
        Event::BeneficiaryRestricted { beneficiary, .. }
        | Event::BeneficiaryRestrictionLifted { beneficiary, .. }
        | Event::BeneficiaryErased { beneficiary, .. } => {
            if let Some(b) = state.beneficiaries.get_mut(beneficiary) {
                b.status = match recorded.event {
                    Event::BeneficiaryRestricted { .. } => BeneficiaryStatus::Restricted,
                    Event::BeneficiaryErased { .. } => BeneficiaryStatus::Erased,
                    _ => BeneficiaryStatus::Active,
                };
            }
        }
        Event::PersonalDataAccessed { .. } => {}
        Event::UserDisabled { user, .. } => {
            if let Some(u) = state.access.users.get_mut(user) {
                u.active = false;
            }
        }
        Event::TokenIssued {
            token,
            user,
            expires_on,
        } => {
            state.access.tokens.insert(
                *token,
                Token {
                    user: user.clone(),
                    expires_on: *expires_on,
                    revoked: false,
                },
            );
        }
        Event::TokenRevoked { token, .. } => {
            if let Some(t) = state.access.tokens.get_mut(token) {
                t.revoked = true;
            }
        }
        Event::AppropriationCommitted { .. }
        | Event::AppropriationReceived { .. }
        | Event::LoanRepaid { .. }
        | Event::LoanWrittenOff { .. }
        | Event::GrantPaid(_)
        | Event::HousingInstalmentPaid { .. }
        | Event::BursaryInstalmentPaid { .. }
        | Event::CondolencePaid { .. }
        | Event::PremiumCollected { .. }
        | Event::ClaimPaid(_) => {}
    }
    if let Some(mut record) = recorded.event.reversible() {
        state.apply_money(&record, Direction::Apply, recorded);
        state.reversible.insert(position);
        if !state.lean {
            // A kept record shares a long fund id's allocation with the fund table's:
            // millions of records. A lean state keeps none, so it need not look.
            let canonical = state.intern_fund(record.fund());
            set_fund(&mut record, canonical);
            state.money_events.insert(position, record);
        }
    }
    // Cheap enough to keep in release builds: nine tiers of the one fund touched.
    if let Some(fund) = recorded.event.fund() {
        if let Some(f) = state.funds.get(fund) {
            assert!(
                f.tiers.iter().all(|t| !t.cash.is_negative()),
                "available cash of fund {fund} went negative at position {position}"
            );
        }
    }
}

fn set_fund(record: &mut Reversible, canonical: FundId) {
    match record {
        Reversible::Commitment { fund, .. }
        | Reversible::Receipt { fund, .. }
        | Reversible::Loan { fund, .. }
        | Reversible::Repayment { fund, .. }
        | Reversible::WriteOff { fund, .. }
        | Reversible::Payment { fund, .. }
        | Reversible::Premium { fund, .. }
        | Reversible::InsurerClaim { fund, .. }
        | Reversible::HousingAward { fund, .. }
        | Reversible::BursaryAward { fund, .. } => *fund = canonical,
    }
}

/// A set of log positions, one bit each: the positions a lean state must remember
/// for every money event (10 million events take 1.25 MB).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct PositionSet {
    /// Bit `p % 64` of word `p / 64` is position `p`.
    words: Vec<u64>,
    len: u64,
}

impl PositionSet {
    fn slot(position: u64) -> (usize, u64) {
        let word = usize::try_from(position / 64).expect("positions fit the address space");
        (word, 1 << (position % 64))
    }

    pub(crate) fn contains(&self, position: u64) -> bool {
        let (word, bit) = Self::slot(position);
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    pub(crate) fn insert(&mut self, position: u64) {
        let (word, bit) = Self::slot(position);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.len += 1;
        }
    }

    pub(crate) fn remove(&mut self, position: u64) {
        let (word, bit) = Self::slot(position);
        if let Some(w) = self.words.get_mut(word) {
            if *w & bit != 0 {
                *w &= !bit;
                self.len -= 1;
            }
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}
