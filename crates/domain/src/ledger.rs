//! Double-entry: the named accounts, posting lines, and the balanced postings of every event.
//!
//! Convention: a debit counts positive and a credit negative in `Posting::signed`, so
//! the lines of any event sum to zero, and so does the whole ledger.

use serde::{Deserialize, Serialize};

use crate::catalogue::{FundingTier, InsuranceModel, TierSplit};
use crate::event::{Event, Purpose, Reversible};
use crate::ids::FundId;
use crate::money::{Amount, Money};

/// The accounts of the general ledger. Every account belongs to one fund; most also to
/// one funding tier, because each tier is a separate sub-ledger of its fund.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    /// The tier's appropriation to the fund (credit balance = committed).
    TierAppropriation { fund: FundId, tier: FundingTier },
    /// Committed money the tier has not yet paid in (debit balance).
    TierReceivable { fund: FundId, tier: FundingTier },
    /// Cash available to the fund from this tier (debit balance, never negative).
    FundCash { fund: FundId, tier: FundingTier },
    /// Cash reserved for payments awaiting approval (debit balance).
    Reserved { fund: FundId, tier: FundingTier },
    /// Loan principal outstanding (debit balance).
    LoansReceivable { fund: FundId, tier: FundingTier },
    /// Loan principal written off (debit balance: an expense).
    LoansWrittenOff { fund: FundId, tier: FundingTier },
    /// Interest paid on loans (credit balance: income).
    InterestIncome { fund: FundId },
    /// Grants, housing and bursary instalments and condolence payments (expense).
    GrantsPaid { fund: FundId, tier: FundingTier },
    /// Premiums paid to the insurer, by tier including the households' share (expense).
    PremiumsPaid { fund: FundId, tier: FundingTier },
    /// The households' own premium money (credit balance: a source).
    HouseholdContributions { fund: FundId },
    /// Claims paid from a self-insured fund (expense).
    ClaimsPaid { fund: FundId, tier: FundingTier },
    /// Claims the insurer paid to families (memo expense; not the fund's money).
    ClaimsPaidByInsurer { fund: FundId },
    /// The insurer's side of claims it paid (credit balance: a memo source).
    InsurerSettlements { fund: FundId },
}

/// Debit or credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Increases asset and expense accounts.
    Debit,
    /// Increases source, income and liability accounts.
    Credit,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        }
    }
}

/// One line of a posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The account.
    pub account: Account,
    /// Debit or credit.
    pub side: Side,
    /// The amount (above zero).
    pub amount: Amount,
}

impl Posting {
    fn debit(account: Account, amount: Amount) -> Posting {
        Posting {
            account,
            side: Side::Debit,
            amount,
        }
    }

    fn credit(account: Account, amount: Amount) -> Posting {
        Posting {
            account,
            side: Side::Credit,
            amount,
        }
    }

    /// Debits positive, credits negative.
    pub fn signed(&self) -> Money {
        match self.side {
            Side::Debit => self.amount.to_money(),
            Side::Credit => self.amount.to_money().negated(),
        }
    }

    /// The same line on the other side.
    pub fn reversed(&self) -> Posting {
        Posting {
            account: self.account.clone(),
            side: self.side.opposite(),
            amount: self.amount,
        }
    }
}

/// Total debits and total credits of a set of lines.
pub fn totals(postings: &[Posting]) -> (Money, Money) {
    postings
        .iter()
        .fold((Money::ZERO, Money::ZERO), |(d, c), p| match p.side {
            Side::Debit => (d + p.amount, c),
            Side::Credit => (d, c + p.amount),
        })
}

/// Whether debits equal credits.
pub fn is_balanced(postings: &[Posting]) -> bool {
    let (debits, credits) = totals(postings);
    debits == credits
}

fn pair(lines: &mut Vec<Posting>, debit: Account, credit: Account, amount: Amount) {
    // Zero lines carry no information and would clutter statements.
    if amount.is_zero() {
        return;
    }
    lines.push(Posting::debit(debit, amount));
    lines.push(Posting::credit(credit, amount));
}

fn reserve_lines(fund: &FundId, reserved: &TierSplit, release: bool) -> Vec<Posting> {
    let mut lines = Vec::with_capacity(reserved.shares().len() * 2);
    for share in reserved.shares() {
        let cash = Account::FundCash {
            fund: fund.clone(),
            tier: share.tier,
        };
        let held = Account::Reserved {
            fund: fund.clone(),
            tier: share.tier,
        };
        if release {
            pair(&mut lines, cash, held, share.amount);
        } else {
            pair(&mut lines, held, cash, share.amount);
        }
    }
    lines
}

impl Reversible {
    /// The lines the original event posted.
    pub fn postings(&self) -> Vec<Posting> {
        let mut lines = Vec::new();
        match self {
            Reversible::Commitment { fund, tier, amount } => pair(
                &mut lines,
                Account::TierReceivable {
                    fund: fund.clone(),
                    tier: *tier,
                },
                Account::TierAppropriation {
                    fund: fund.clone(),
                    tier: *tier,
                },
                *amount,
            ),
            Reversible::Receipt { fund, tier, amount } => pair(
                &mut lines,
                Account::FundCash {
                    fund: fund.clone(),
                    tier: *tier,
                },
                Account::TierReceivable {
                    fund: fund.clone(),
                    tier: *tier,
                },
                *amount,
            ),
            Reversible::Loan {
                fund,
                tier,
                principal,
                ..
            } => pair(
                &mut lines,
                Account::LoansReceivable {
                    fund: fund.clone(),
                    tier: *tier,
                },
                Account::FundCash {
                    fund: fund.clone(),
                    tier: *tier,
                },
                *principal,
            ),
            Reversible::Repayment {
                fund,
                tier,
                principal,
                interest,
                ..
            } => {
                pair(
                    &mut lines,
                    Account::FundCash {
                        fund: fund.clone(),
                        tier: *tier,
                    },
                    Account::LoansReceivable {
                        fund: fund.clone(),
                        tier: *tier,
                    },
                    *principal,
                );
                // Interest is new money: it lands in the fund's interest tier.
                pair(
                    &mut lines,
                    Account::FundCash {
                        fund: fund.clone(),
                        tier: FundingTier::Interest,
                    },
                    Account::InterestIncome { fund: fund.clone() },
                    *interest,
                );
            }
            Reversible::WriteOff {
                fund, tier, amount, ..
            } => pair(
                &mut lines,
                Account::LoansWrittenOff {
                    fund: fund.clone(),
                    tier: *tier,
                },
                Account::LoansReceivable {
                    fund: fund.clone(),
                    tier: *tier,
                },
                *amount,
            ),
            Reversible::Payment {
                fund,
                purpose,
                shares,
            } => {
                for share in shares.shares() {
                    let expense = match purpose {
                        Purpose::Claim { .. } => Account::ClaimsPaid {
                            fund: fund.clone(),
                            tier: share.tier,
                        },
                        _ => Account::GrantsPaid {
                            fund: fund.clone(),
                            tier: share.tier,
                        },
                    };
                    pair(
                        &mut lines,
                        expense,
                        Account::FundCash {
                            fund: fund.clone(),
                            tier: share.tier,
                        },
                        share.amount,
                    );
                }
            }
            Reversible::Premium {
                fund,
                model,
                shares,
                ..
            } => {
                for share in shares.shares() {
                    let household = share.tier == FundingTier::HouseholdContribution;
                    match (model, household) {
                        // Households' money passes straight to the insurer.
                        (InsuranceModel::InsurerUnderwritten, true) => pair(
                            &mut lines,
                            Account::PremiumsPaid {
                                fund: fund.clone(),
                                tier: share.tier,
                            },
                            Account::HouseholdContributions { fund: fund.clone() },
                            share.amount,
                        ),
                        // The tier's cash leaves the fund for the insurer.
                        (InsuranceModel::InsurerUnderwritten, false) => pair(
                            &mut lines,
                            Account::PremiumsPaid {
                                fund: fund.clone(),
                                tier: share.tier,
                            },
                            Account::FundCash {
                                fund: fund.clone(),
                                tier: share.tier,
                            },
                            share.amount,
                        ),
                        // A self-insured scheme keeps the households' money to pay claims.
                        (InsuranceModel::SelfInsured, true) => pair(
                            &mut lines,
                            Account::FundCash {
                                fund: fund.clone(),
                                tier: share.tier,
                            },
                            Account::HouseholdContributions { fund: fund.clone() },
                            share.amount,
                        ),
                        // A tier's premium share in a self-insured scheme is already in the
                        // fund's cash and stays there until claims are paid: no line.
                        (InsuranceModel::SelfInsured, false) => {}
                    }
                }
            }
            Reversible::InsurerClaim { fund, amount, .. } => pair(
                &mut lines,
                Account::ClaimsPaidByInsurer { fund: fund.clone() },
                Account::InsurerSettlements { fund: fund.clone() },
                *amount,
            ),
            Reversible::HousingAward { .. } | Reversible::BursaryAward { .. } => {}
        }
        lines
    }
}

impl Event {
    /// The balanced lines this event posts (empty for events that move no money).
    pub fn postings(&self) -> Vec<Posting> {
        match self {
            Event::PaymentRequested { fund, reserved, .. } => reserve_lines(fund, reserved, false),
            Event::PaymentApproved { fund, reserved, .. }
            | Event::PaymentRejected { fund, reserved, .. }
            | Event::PaymentRequestExpired { fund, reserved, .. } => {
                reserve_lines(fund, reserved, true)
            }
            Event::EventReversed { reversed, .. } => {
                reversed.postings().iter().map(Posting::reversed).collect()
            }
            other => other.reversible().map(|r| r.postings()).unwrap_or_default(),
        }
    }
}
